import gzip

import pytest

from convrec.data.readers import FormatError, read_source
from convrec.data.readers import source as source_module


def test_paths_and_bytes_give_the_same_bytes_and_a_name(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\x00\x01data")
    assert read_source(tmp_path / "a.bin") == (b"\x00\x01data", str(tmp_path / "a.bin"))
    assert read_source(str(tmp_path / "a.bin"))[0] == b"\x00\x01data"
    for data in (b"\x00\x01data", bytearray(b"\x00\x01data"), memoryview(b"\x00\x01data")):
        assert read_source(data) == (b"\x00\x01data", "<bytes>")


def test_gzip_is_recognised_by_its_magic_bytes(tmp_path):
    (tmp_path / "no-suffix").write_bytes(gzip.compress(b"hello"))
    assert read_source(tmp_path / "no-suffix")[0] == b"hello"
    assert read_source(gzip.compress(b"hello"), decompress=False)[0][:2] == b"\x1f\x8b"


def test_damaged_gzip_is_a_format_error():
    with pytest.raises(FormatError, match=r"<bytes>, byte 0: expected a complete gzip stream"):
        read_source(gzip.compress(b"hello" * 100)[:-10])


def test_gzip_bombs_are_refused(monkeypatch):
    monkeypatch.setattr(source_module, "MAX_DECOMPRESSED", 1000)
    assert read_source(gzip.compress(bytes(1000)))[0] == bytes(1000)
    with pytest.raises(FormatError, match=r"expected gzip data expanding to at most 1000 bytes"):
        read_source(gzip.compress(bytes(1001)))


def test_missing_files_and_wrong_types_are_not_format_errors(tmp_path):
    """A missing file is an OS error, a wrong argument a TypeError: neither is a bad file."""
    with pytest.raises(
        FileNotFoundError,
        match=r"`source`: expected a file or bytes, got .*absent\.ts \(not a file\)",
    ):
        read_source(tmp_path / "absent.ts")
    with pytest.raises(TypeError, match=r"`source`: expected a path \(str or Path\) or bytes, got"):
        read_source(42)  # type: ignore[arg-type]
