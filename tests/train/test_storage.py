"""Checkpoint folders: the manifest is written last and checked on reading; a damaged file is a
checksum mismatch naming it; a full disk leaves nothing behind; temporaries lie beside their
destination; the write delay hook splits every write."""

import errno
import hashlib
import json
import os

import pytest

from convrec.data.store import ChecksumMismatch
from convrec.errors import WriteError
from convrec.train import storage
from convrec.train.storage import (
    MANIFEST,
    WRITE_DELAY_VARIABLE,
    CheckpointChecksumMismatch,
    CorruptCheckpointError,
    commit,
    read_committed,
)
from tests.renames import record_renames

FILES = {"state.pt": bytes(range(256)) * 40, "extra.json": b'{"epoch": 3}'}


def test_the_manifest_comes_last_and_records_the_size_and_sha256_of_every_file(
    tmp_path, monkeypatch
):
    written = []
    write_file = storage.write_file

    def recording_write_file(path, data):
        written.append(path.name)
        write_file(path, data)

    monkeypatch.setattr(storage, "write_file", recording_write_file)
    folder = commit(tmp_path / "epoch-0003", FILES)
    assert written == ["state.pt", "extra.json", MANIFEST]
    records = json.loads((folder / MANIFEST).read_text())["files"]
    assert records == {
        name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in FILES.items()
    }
    assert read_committed(folder) == FILES


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-1], id="last-byte-cut"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated-to-half"),
        pytest.param(lambda data: bytes([data[0] ^ 1]) + data[1:], id="first-bit-flipped"),
        pytest.param(lambda data: data[:5000] + bytes([data[5000] ^ 128]) + data[5001:], id="flip"),
        pytest.param(lambda data: data + b"\0", id="one-byte-appended"),
    ],
)
def test_a_damaged_file_is_a_checksum_mismatch_naming_it(tmp_path, damage):
    folder = commit(tmp_path / "epoch-0003", FILES)
    path = folder / "state.pt"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointChecksumMismatch, match=r"state\.pt is truncated or damaged") as e:
        read_committed(folder)
    assert isinstance(e.value, ChecksumMismatch) and isinstance(e.value, CorruptCheckpointError)


@pytest.mark.parametrize(
    "manifest, message",
    [
        (None, "has no manifest.json: its write never finished"),
        (b'{"files": {"state.pt": {"bytes": 1', "manifest.json is damaged"),
        (b'{"files": {"state.pt": {"bytes": 1}}}', "manifest.json is damaged"),
        (b'{"files": {"../state.pt": {"bytes": 1, "sha256": "0"}}}', "is not in the folder"),
        (b'{"files": {"gone.pt": {"bytes": 1, "sha256": "0"}}}', "gone.pt is listed in"),
    ],
)
def test_a_missing_or_damaged_manifest_is_a_corrupt_checkpoint(tmp_path, manifest, message):
    folder = commit(tmp_path / "epoch-0003", FILES)
    (folder / MANIFEST).unlink()
    if manifest is not None:
        (folder / MANIFEST).write_bytes(manifest)
    with pytest.raises(CorruptCheckpointError, match=message):
        read_committed(folder)


def test_a_full_disk_halfway_raises_enospc_naming_the_checkpoint_and_leaves_nothing(
    tmp_path, monkeypatch
):
    previous = commit(tmp_path / "epoch-0002", FILES)
    write = os.write
    calls = []

    def disk_fills_up(handle, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(handle, bytes(data)[: len(data) // 2])

    monkeypatch.setattr(os, "write", disk_fills_up)
    with pytest.raises(
        WriteError,
        match=r"^cannot write the checkpoint .*epoch-0003 \(the checkpoints before it are "
        r"untouched\): No space left on device$",
    ) as e:
        commit(tmp_path / "epoch-0003", FILES)
    monkeypatch.undo()
    assert e.value.errno == errno.ENOSPC and len(calls) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch-0002"]
    assert read_committed(previous) == FILES


def test_the_temporary_folder_lies_beside_the_destination_not_in_tmpdir(tmp_path, monkeypatch):
    renames, elsewhere = record_renames(monkeypatch, tmp_path, "rename")
    commit(tmp_path / "run" / "epoch-0001", FILES)
    assert renames == [(str(tmp_path / "run"), str(tmp_path / "run"))]
    assert not list(elsewhere.iterdir())


def test_an_uncommitted_folder_of_the_same_name_is_replaced(tmp_path):
    stale = tmp_path / "epoch-0003"
    stale.mkdir()
    (stale / "state.pt").write_bytes(b"half a checkpoint")
    commit(stale, FILES)
    assert read_committed(stale) == FILES
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch-0003"]


def test_the_write_delay_hook_writes_every_file_in_two_halves(tmp_path, monkeypatch):
    monkeypatch.setenv(WRITE_DELAY_VARIABLE, "0.001")
    write = os.write
    sizes = []

    def recording_write(handle, data):
        sizes.append(len(data))
        return write(handle, data)

    monkeypatch.setattr(os, "write", recording_write)
    commit(tmp_path / "epoch-0001", {"state.pt": b"0123456789"})
    manifest = (tmp_path / "epoch-0001" / MANIFEST).stat().st_size
    assert sizes == [5, 5, manifest // 2, manifest - manifest // 2]
