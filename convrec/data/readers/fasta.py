"""FASTA files: ``>`` header lines, each followed by the lines of one sequence.

Sequence lines are joined and upper-cased; blank lines are skipped. Anything before the first
header is refused, and so is an empty record (a header with no sequence after it): in the data
convrec reads, an empty record means a damaged file, not a sequence of length zero.
"""

from __future__ import annotations

import re

from convrec.data.readers.errors import FormatError
from convrec.data.readers.source import Source, iter_lines, source_name
from convrec.errors import InvalidValueError

NUCLEOTIDES = "ACGTURYSWKMBDHVN-"
"""The IUPAC nucleotide codes (bases, ambiguity codes, ``N``) and ``-`` for a gap."""
PROTEIN = "ACDEFGHIKLMNPQRSTVWYBZJUOX*-"
"""The IUPAC amino-acid codes, ``X`` for unknown, ``*`` for a stop and ``-`` for a gap."""


def read_fasta(source: Source, alphabet: str | None = NUCLEOTIDES) -> list[tuple[str, str]]:
    """Read the records of a FASTA file (optionally gzip-compressed).

    Args:
        source: a path (str or Path) or the file's bytes.
        alphabet: the characters a sequence may hold, compared after upper-casing;
            :data:`NUCLEOTIDES` by default, :data:`PROTEIN` for proteins, ``None`` for any
            character but whitespace.

    Returns:
        ``(header, sequence)`` per record, in file order: the header line without ``>``, the
        sequence upper-cased, its lines joined.

    Raises:
        FormatError: data before the first header, an empty record or header, or a character
            outside the alphabet.

    Example:
        >>> read_fasta(b">seq1 Oct4 peak\\nacgt\\nNNAC\\n>seq2\\nGG\\n")
        [('seq1 Oct4 peak', 'ACGTNNAC'), ('seq2', 'GG')]
    """
    if alphabet == "":
        raise InvalidValueError(
            "read_fasta: invalid value for argument `alphabet`: expected a non-empty string or "
            "None, got ''."
        )
    name = source_name(source)
    invalid = re.compile(r"\s" if alphabet is None else f"[^{re.escape(alphabet.upper())}]")
    records: list[tuple[str, str]] = []
    header = None
    header_line = 0
    parts = bytearray()  # the record's sequence so far, one byte per (ASCII) character
    for number, raw in enumerate(iter_lines(source), start=1):  # streamed: one block in memory
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            _close(records, header, parts, name, header_line)
            header, header_line, parts = line[1:].strip(), number, bytearray()
            if not header:
                raise FormatError(name, f"line {number}", "a name after '>'", "nothing")
            continue
        if header is None:
            raise FormatError(name, f"line {number}", "a '>' header first", repr(line[:40]))
        if not line.isascii():  # "ß".upper() is "SS": upper-case only what is plain ASCII
            bad_column = next(index for index, character in enumerate(line) if ord(character) > 127)
            raise FormatError(
                name,
                f"line {number}, column {bad_column + 1}",
                "a sequence character" if alphabet is None else f"one of {alphabet.upper()}",
                repr(line[bad_column]),
            )
        sequence = line.upper()
        bad = invalid.search(sequence)
        if bad:
            raise FormatError(
                name,
                f"line {number}, column {bad.start() + 1}",
                "a sequence character" if alphabet is None else f"one of {alphabet.upper()}",
                repr(line[bad.start()]),
            )
        parts += sequence.encode("ascii")
    _close(records, header, parts, name, header_line)
    return records


def _close(
    records: list[tuple[str, str]], header: str | None, parts: bytearray, name: str, line: int
) -> None:
    """Append the record being read, if any; refuse it if it has no sequence."""
    if header is None:
        return
    if not parts:
        raise FormatError(name, f"line {line}", f"a sequence after the header '>{header}'", "none")
    records.append((header, parts.decode("ascii")))
