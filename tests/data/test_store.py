from pathlib import Path

import pytest

from convrec.data.store import ChecksumMismatch, DataMissingError, data_dir, missing, sha256, verify


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("CONVREC_DATA")
    assert data_dir() == Path.home() / ".cache" / "convrec"


def test_verify_accepts_the_right_digest_and_names_the_wrong_one(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256(path) == digest
    assert verify(path, digest) == path
    with pytest.raises(ChecksumMismatch, match=f"SHA-256 is {digest}, expected 00"):
        verify(path, "00")


def test_missing_data_message_gives_the_fetch_command(tmp_path):
    error = missing("gunpoint", "ucr", tmp_path)
    assert isinstance(error, DataMissingError)
    assert "`convrec data fetch ucr`" in str(error)
    assert "root=" in str(error)
