"""Atomic writes: the old file survives a failed write or a full disk, the temporary file lies
beside its destination and leftovers are cleared; formats round-trip."""

import csv
import errno
import json
import os

import pytest
import yaml

from convrec.files import atomic_write, remove_temporaries, write_csv, write_json, write_yaml
from tests.renames import record_renames


def test_a_failing_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"accuracy": 0.9})

    def crash(file):
        file.write(b'{"accura')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, crash)
    assert json.loads(path.read_text()) == {"accuracy": 0.9}
    assert [item.name for item in tmp_path.iterdir()] == ["metrics.json"]


def test_a_full_disk_halfway_raises_enospc_and_leaves_the_previous_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"accuracy": 0.9})

    def fill_the_disk(file):
        file.write(b'{"accuracy": 0.95,')
        file.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left on device") as raised:
        atomic_write(path, fill_the_disk)
    assert raised.value.errno == errno.ENOSPC
    assert json.loads(path.read_text()) == {"accuracy": 0.9}
    assert [item.name for item in tmp_path.iterdir()] == ["metrics.json"]


def test_the_temporary_file_lies_beside_the_destination_not_in_tmpdir(tmp_path, monkeypatch):
    renames, elsewhere = record_renames(monkeypatch, tmp_path, "replace")
    write_json(tmp_path / "run" / "metrics.json", {"accuracy": 0.9})
    assert renames == [(str(tmp_path / "run"), str(tmp_path / "run"))]
    assert not list(elsewhere.iterdir())


def test_leftover_temporaries_are_removed_and_nothing_else(tmp_path):
    (tmp_path / ".metrics.json.k2j4.tmp").write_text("{")
    (tmp_path / ".epoch-0003.x8a1.tmp").mkdir()
    (tmp_path / ".epoch-0003.x8a1.tmp" / "state.pt").write_bytes(b"PK")
    for kept in ("metrics.json", "notes.tmp", ".hidden"):
        (tmp_path / kept).write_text("kept")
    removed = remove_temporaries(tmp_path)
    assert sorted(path.name for path in removed) == [
        ".epoch-0003.x8a1.tmp",
        ".metrics.json.k2j4.tmp",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".hidden",
        "metrics.json",
        "notes.tmp",
    ]


def test_csv_columns_follow_first_appearance(tmp_path):
    path = write_csv(
        tmp_path / "history.csv", [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    )
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert rows == [{"epoch": "1", "loss": "0.5"}, {"epoch": "2", "loss": "0.25"}]


def test_yaml_round_trips(tmp_path):
    value = {"task": "maxwell", "lr": 0.003, "model_options": {"hidden_size": 64}}
    assert yaml.safe_load(write_yaml(tmp_path / "config.yaml", value).read_text()) == value
