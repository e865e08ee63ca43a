import pytest

from convrec.data.readers import FormatError


def test_message_names_file_position_expected_and_got():
    error = FormatError("train.ts", "line 12", "6 channels", 5)
    assert str(error) == "train.ts, line 12: expected 6 channels, got 5."
    assert (error.source, error.position, error.expected, error.got) == (
        "train.ts",
        "line 12",
        "6 channels",
        5,
    )


def test_hint_follows_the_message():
    error = FormatError("<bytes>", "byte 16", "12 bytes", "11", hint="The file is truncated.")
    assert str(error) == "<bytes>, byte 16: expected 12 bytes, got 11. The file is truncated."


def test_is_a_value_error_so_callers_catching_value_errors_see_it():
    with pytest.raises(ValueError, match=r"^a\.idx, byte 2: expected a type code, got 0x07\.$"):
        raise FormatError("a.idx", "byte 2", "a type code", "0x07")
