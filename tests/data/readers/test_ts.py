import gzip

import numpy as np
import pytest

from convrec.data.readers import FormatError
from convrec.data.readers.ts import TsFile, read_ts

HEADER = """\
# a comment
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true up down
@data
"""


def ts_text(series: list[np.ndarray], labels: list[str], header: str) -> str:
    """A .ts file of ``(T, C)`` cases written with ``repr`` (exact float64), NaN as ``?``."""
    lines = []
    for case, label in zip(series, labels, strict=True):
        channels = [",".join("?" if np.isnan(x) else repr(float(x)) for x in c) for c in case.T]
        lines.append(":".join([*channels, label]) if label else ":".join(channels))
    return header + "\n".join(lines) + "\n"


def test_multivariate_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    series = [rng.standard_normal((3, 2)) * 10.0 ** rng.integers(-5, 5) for _ in range(6)]
    series[2][1, 0] = np.nan
    labels = ["up", "down", "up", "up", "down", "down"]
    (tmp_path / "Tiny_TRAIN.ts").write_text(ts_text(series, labels, HEADER))
    tiny = read_ts(tmp_path / "Tiny_TRAIN.ts")
    assert isinstance(tiny, TsFile)
    assert len(tiny.series) == 6 and all(case.shape == (3, 2) for case in tiny.series)
    for read, written in zip(tiny.series, series, strict=True):
        assert read.dtype == np.float64
        np.testing.assert_array_equal(read, written)  # NaN where the file says '?'
    assert tiny.labels.tolist() == labels and tiny.class_names == ("up", "down")
    assert (tiny.problem_name, tiny.dimensions, tiny.equal_length, tiny.series_length) == (
        "Tiny",
        2,
        True,
        3,
    )
    assert tiny.header["classlabel"] == "true up down" and tiny.header["missing"] == "true"


def test_variable_length_univariate_with_comments_crlf_bom_and_gzip():
    text = (
        "\ufeff% an ARFF-style comment\r\n@PROBLEMNAME Vowels\r\n@Univariate TRUE\r\n"
        "@equalLength\tfalse\r\n@classLabel true 1 2\r\n\r\n@data\r\n"
        "1,2,3:1\r\n# a comment between cases\r\n4.5,-6e-3:2\r\n  7  :1\r\n"
    )
    vowels = read_ts(gzip.compress(text.encode()))
    assert [case.ravel().tolist() for case in vowels.series] == [[1, 2, 3], [4.5, -6e-3], [7]]
    assert all(case.shape[1] == 1 for case in vowels.series)
    assert vowels.labels.tolist() == ["1", "2", "1"] and vowels.problem_name == "Vowels"
    assert not vowels.equal_length and vowels.series_length is None


def test_regression_targets_are_floats():
    text = "@univariate true\n@targetLabel true\n@data\n1,2:0.5\n3,4:-2e3\n"
    regression = read_ts(text.encode())
    assert regression.labels.dtype == np.float64
    assert regression.labels.tolist() == [0.5, -2000.0] and regression.class_names is None


def test_unlabelled_file_infers_the_channels():
    unlabelled = read_ts(b"@classLabel false\n@data\n1,2:3,4:5,6\n7,8:9,10:11,12\n")
    assert unlabelled.labels is None and unlabelled.dimensions == 3
    np.testing.assert_array_equal(unlabelled.series[1], [[7, 9, 11], [8, 10, 12]])


def test_a_repeated_problem_name_keeps_the_first():
    text = "@problemName UnitTest\n@problemName Chinatown\n@classLabel true 1\n@data\n1:1\n"
    assert read_ts(text.encode()).problem_name == "UnitTest"


def test_a_file_with_no_cases_is_empty():
    empty = read_ts(b"@dimensions 4\n@classLabel true a\n@data\n")
    assert empty.series == [] and empty.labels.tolist() == [] and empty.dimensions == 4


def header_with(**changes: str) -> str:
    lines = HEADER.splitlines()
    for tag, value in changes.items():
        prefix = f"@{tag.lower()} "
        lines = [f"@{tag} {value}" if line.lower().startswith(prefix) else line for line in lines]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            header_with(timeStamps="true"),
            r"line 3: expected @timeStamps false, got true: timestamped series are not supported",
        ),
        (HEADER.replace("@data\n", ""), r"line 9: expected an @data line, got the end of the file"),
        ("@problemName a\n@frequency 2\n@data\n", r"line 2: expected a header among .*@frequency"),
        ("@missing true\n@missing false\n", r"line 2: expected @missing once, got a second one"),
        ("1,2:up\n@data\n", r"line 1: expected a comment \('#' or '%'\) or an '@' header"),
        (header_with(missing="maybe"), r"line 4: expected @missing true or false, got maybe"),
        (
            header_with(dimensions="two"),
            r"line 6: expected @dimensions a positive integer, got two",
        ),
        (
            header_with(seriesLength="0"),
            r"line 8: expected @seriesLength a positive integer, got 0",
        ),
        (
            header_with(univariate="true"),
            r"line 6: expected @dimensions 1 with @univariate true, got 2",
        ),
        (
            header_with(classLabel="true"),
            r"line 9: expected @classLabel true <names> or false, got true\.",
        ),
        (
            header_with(classLabel="false a"),
            r"line 9: expected @classLabel true <names> or false, got false a",
        ),
        (
            header_with(classLabel="true a a"),
            r"line 9: expected @classLabel with distinct class names, got a a",
        ),
        (
            header_with(classLabel="yes a"),
            r"line 9: expected @classLabel true <names> or false, got yes a",
        ),
        (
            "@univariate true\n@data\n1:1\n",
            r"line 2: expected @classLabel or @targetLabel before @data",
        ),
        (
            "@classLabel true a\n@targetLabel true\n@data\n",
            r"line 2: expected @targetLabel false with @classLabel true, got true",
        ),
        (HEADER + "1,2,3:4,5,6:7,8,9:up\n", r"line 11: expected 2 channels separated by ':', then"),
        (HEADER + "1,2,3:4,5:up\n", r"line 11: expected channels of one length, got lengths 3, 2"),
        (HEADER + "1,2:4,5:up\n", r"line 11: expected 3 values per channel \(@seriesLength\)"),
        (HEADER + "1,2,3:4,5,6:left\n", r"line 11: expected a class label among up, down last"),
        (HEADER + "1,2,3:4,x,6:up\n", r"line 11, channel 2, value 2: expected a number or '\?'"),
        (HEADER + "1,2,3:4,,6:up\n", r"channel 2, value 2: expected a number or '\?', got ''"),
        (header_with(missing="false") + "1,2,?:4,5,6:up\n", r"line 11: expected no '\?'"),
        ("@targetLabel true\n@data\n1,2:high\n", r"line 3: expected a numeric target last"),
        ("@classLabel true a\n@data\na\n", r"line 3: expected one or more channels .*, got 0"),
        (header_with(dimensions="9" * 5000), r"line 6: expected @dimensions a positive integer"),
        (
            HEADER.replace("@seriesLength 3\n", "") + "1,2,3:1,2,3:up\n1:1:up\n",
            r"line 11: expected 3 values per channel like the first case \(@equalLength\)",
        ),
    ],
)
def test_header_promises_are_checked_case_by_case(text, match):
    with pytest.raises(FormatError, match=match):
        read_ts(text.encode())


def test_invalid_utf8_names_the_line(tmp_path):
    (tmp_path / "bad.ts").write_bytes(b"@classLabel true a\n@data\n1,2:\xff\n")
    with pytest.raises(FormatError, match=r"bad\.ts, line 3: expected UTF-8 text"):
        read_ts(tmp_path / "bad.ts")
