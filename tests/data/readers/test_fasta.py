import gzip

import numpy as np
import pytest

from convrec.data.readers import FormatError
from convrec.data.readers.fasta import NUCLEOTIDES, PROTEIN, read_fasta


def test_round_trip_of_wrapped_records(tmp_path):
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGTN"), 203)) for _ in range(5)]
    records = [(f"chr1:{100 * i}-{100 * i + 200} peak", s) for i, s in enumerate(sequences)]
    with (tmp_path / "peaks.fa").open("w") as file:
        for header, sequence in records:
            file.write(f">{header}\n")
            file.writelines(
                sequence[start : start + 60].lower() + "\n" for start in range(0, 203, 60)
            )
    assert read_fasta(tmp_path / "peaks.fa") == records
    assert read_fasta(gzip.compress((tmp_path / "peaks.fa").read_bytes())) == records


def test_blank_lines_crlf_and_surrounding_spaces_are_ignored():
    data = b"\r\n>one \r\nAC\r\n\r\n  GT  \r\n>two\r\nRYN-\r\n"
    assert read_fasta(data) == [("one", "ACGT"), ("two", "RYN-")]


def test_other_alphabets():
    assert read_fasta(b">p\nmkv*\n", alphabet=PROTEIN) == [("p", "MKV*")]
    assert read_fasta(b">any\nxyz!\n", alphabet=None) == [("any", "XYZ!")]
    assert read_fasta(b">bin\n0110\n", alphabet="01") == [("bin", "0110")]
    assert set(NUCLEOTIDES) >= set("ACGTN")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"ACGT\n>late\nACGT\n", r"<bytes>, line 1: expected a '>' header first, got 'ACGT'"),
        (b">empty\n\n>next\nAC\n", r"line 1: expected a sequence after the header '>empty'"),
        (b">a\nAC\n>last\n", r"line 3: expected a sequence after the header '>last', got none"),
        (b">\nAC\n", r"line 1: expected a name after '>', got nothing"),
        (b">a\nACGT\nACXT\n", r"line 3, column 3: expected one of ACGTURYSWKMBDHVN-, got 'X'"),
        (b">a\nAC GT\n", r"line 2, column 3: expected one of .*, got ' '"),
        (b">a\nAC\xffGT\n", r"line 2: expected UTF-8 text"),
    ],
)
def test_malformed_files_raise_format_error_naming_the_line(data, match):
    with pytest.raises(FormatError, match=match):
        read_fasta(data)


def test_whitespace_inside_a_sequence_is_refused_with_any_alphabet(tmp_path):
    (tmp_path / "gap.fa").write_text(">a\nAC\tGT\n")
    with pytest.raises(FormatError, match=r"gap\.fa, line 2, column 3: expected a sequence char"):
        read_fasta(tmp_path / "gap.fa", alphabet=None)


def test_an_empty_alphabet_is_an_argument_error():
    with pytest.raises(ValueError, match=r"`alphabet`: expected a non-empty string or None"):
        read_fasta(b">a\nAC\n", alphabet="")
