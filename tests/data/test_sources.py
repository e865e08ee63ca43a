import hashlib
import io
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from convrec.data import rdatasets, sources
from convrec.data.datasets import DATASETS, SYNTHESISED, served_by
from convrec.data.filechecks import Floats, Integers
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


def _register(monkeypatch, source):
    monkeypatch.setitem(sources.SOURCES, source.name, source)


def _digests(files):
    """The SHA-256 record of ``{name: content}``."""
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


def _toy(files, build=None):
    """A generated source writing ``files`` (or running ``build``), recording their SHA-256."""
    return Source("toy", Generated("toy", build or _writer(files)), _digests(files))


def _writer(files):
    def build(workdir):
        paths = []
        for name, content in files.items():
            paths.append(workdir / name)
            paths[-1].write_bytes(content)
        return paths

    return build


def test_fetch_commits_a_folder_with_a_manifest_and_require_checks_it(monkeypatch, data):
    _register(monkeypatch, _toy({"a.txt": b"alpha"}))
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
    _register(monkeypatch, _toy({"a": b"1", "b": b"2"}))
    folder = fetch("toy")
    (folder / "a").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatch, match="a: SHA-256 is"):
        require("toy", "toy")
    fetch("toy", force=True)
    (folder / "b").unlink()
    with pytest.raises(ChecksumMismatch, match=r"listed in .* but missing"):
        require("toy", "toy")


def test_a_raw_file_with_the_wrong_checksum_is_never_committed(monkeypatch, data):
    _register(
        monkeypatch, Source("toy", Generated("toy", _writer({"a": b"evil"})), {"a": "0" * 64})
    )
    with pytest.raises(ChecksumMismatch):
        fetch("toy")
    assert status("toy") == "missing"
    assert list(data.iterdir()) == []


def test_a_crashed_fetch_leaves_the_previous_copy_whole(monkeypatch, data):
    _register(monkeypatch, _toy({"a": b"good"}))
    folder = fetch("toy")

    def crash(workdir):
        (workdir / "a").write_bytes(b"half")
        raise OSError("disk full")

    _register(monkeypatch, _toy({"a": b"good"}, crash))
    with pytest.raises(OSError, match="disk full"):
        fetch("toy", force=True)
    assert (folder / "a").read_bytes() == b"good"
    assert require("toy", "toy") == folder


def test_a_folder_without_manifest_is_incomplete(monkeypatch, data):
    _register(monkeypatch, _toy({"a": b"x"}))
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
    wheel_source = Wheel("pkg==1.0", ("pkg/data/values.csv",))
    _register(monkeypatch, Source("toy", wheel_source, _digests({"values.csv": b"1,2\n"})))
    folder = fetch("toy")
    assert sorted(path.name for path in folder.iterdir()) == [MANIFEST, "values.csv"]
    assert (folder / "values.csv").read_text() == "1,2\n"


def test_debian_files_come_from_the_installed_package_when_present(monkeypatch, data, tmp_path):
    installed = tmp_path / "usr" / "share" / "toy"
    installed.mkdir(parents=True)
    (installed / "one").write_text("1")
    monkeypatch.setattr(sources, "_run", lambda *args: pytest.fail("nothing to download"))
    debian = DebianPackage(("toy",), str(installed))
    _register(monkeypatch, Source("toy", debian, _digests({"one": b"1"})))
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
        rdatasets._DataFrameUnpickler(io.BytesIO(payload)).load()
    assert not (tmp_path / "pwned").exists()


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown data source 'ucrr'.*Did you mean 'ucr'"):
        fetch("ucrr")


def test_every_registered_source_is_well_formed():
    for name, entry in sources.SOURCES.items():
        assert entry.name == name
        assert isinstance(entry.origin, Wheel | DebianPackage | Generated)
        assert entry.convert is None or callable(entry.convert)
        assert entry.files, f"{name} records no file checks"
        for check in entry.files.values():
            assert isinstance(check, Integers | Floats) or re.fullmatch("[0-9a-f]{64}", check)
        if isinstance(entry.origin, Wheel):  # each member is a recorded file, and back
            assert {Path(member).name for member in entry.origin.members} == set(entry.files)


def test_every_dataset_reads_a_registered_source():
    for name, entry in DATASETS.items():
        assert entry.source in sources.SOURCES or entry.source == SYNTHESISED, name
        assert served_by(entry.source) and name in served_by(entry.source)


def test_a_raw_file_without_a_recorded_check_is_refused_and_nothing_is_kept(monkeypatch, data):
    files = {"a": b"1", "b": b"2"}
    record = {"a": hashlib.sha256(b"1").hexdigest()}
    _register(monkeypatch, Source("toy", Generated("toy", _writer(files)), record))
    with pytest.raises(ChecksumMismatch, match=r"toy: b came from toy but no check of it is"):
        fetch("toy")
    assert status("toy") == "missing"


def test_a_recorded_file_that_did_not_come_is_refused(monkeypatch, data):
    record = _digests({"a": b"1", "b": b"2"})
    _register(monkeypatch, Source("toy", Generated("toy", _writer({"a": b"1"})), record))
    with pytest.raises(ChecksumMismatch, match=r"toy: b did not come from toy"):
        fetch("toy")


def test_generated_arrays_are_checked_by_value_so_last_bit_differences_pass(monkeypatch, data):
    """A float array whose last bits differ (as another machine's generator makes them) is
    accepted; a changed value, or labels out of order, are not."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 12)), rng.integers(0, 10, 300)
    record = {"x.npy": Floats.of(x), "y.npy": Integers.of(y)}

    def build(arrays):
        def write(workdir):
            for name, array in arrays.items():
                np.save(workdir / name, array)
            return [workdir / name for name in arrays]

        return write

    def fetched(arrays):
        _register(monkeypatch, Source("toy", Generated("toy", build(arrays)), record))
        return fetch("toy", force=True)

    last_bits = np.nextafter(x, np.where(rng.random(x.shape) < 0.5, np.inf, -np.inf))
    assert not np.array_equal(last_bits, x)
    fetched({"x.npy": last_bits, "y.npy": y.astype(np.int32)})  # another dtype, same labels
    changed = x.copy()
    changed[7, 3] += 1e-5
    with pytest.raises(ChecksumMismatch, match=r"x\.npy: its values differ from the recorded"):
        fetched({"x.npy": changed, "y.npy": y})
    with pytest.raises(ChecksumMismatch, match=r"x\.npy: its values differ"):
        fetched({"x.npy": x[[1, 0, *range(2, 300)]], "y.npy": y})
    with pytest.raises(ChecksumMismatch, match=r"y\.npy: expected the recorded integers"):
        fetched({"x.npy": x, "y.npy": y[::-1].copy()})
    with pytest.raises(ChecksumMismatch, match=r"x\.npy: expected an array of shape \(300, 12\)"):
        fetched({"x.npy": x[:299], "y.npy": y})
