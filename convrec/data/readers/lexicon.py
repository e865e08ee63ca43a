"""Pronouncing dictionaries in the CMU format: one ``word PH1 PH2 ...`` entry per line.

A word's alternative pronunciations are further lines ``word(2) ...``, ``word(3) ...``; text
after ``#`` is a comment (the CMU dictionary marks places and names that way), and so is a line
starting with ``;;;`` (older releases' header). Phonemes are upper-case letters with an optional
stress digit (ARPAbet: ``AH0``, ``T``).
"""

from __future__ import annotations

import re

from convrec.data.readers.errors import FormatError
from convrec.data.readers.source import Source, iter_lines, source_name

_VARIANT = re.compile(r"\(\d+\)$")
_PHONEME = re.compile(r"[A-Z]+[0-9]?")


def read_lexicon(source: Source) -> list[tuple[str, tuple[str, ...]]]:
    """Read a pronouncing dictionary.

    Args:
        source: a path (str or Path) or the file's bytes (gzip recognised).

    Returns:
        ``(word, phonemes)`` per pronunciation, in file order: the word without its variant
        marker ``(2)``, as the file spells it, and its phonemes.

    Raises:
        FormatError: a word without phonemes, or a phoneme that is not upper-case letters with
            an optional digit.

    Example:
        >>> read_lexicon(b"tomato T AH0 M EY1 T OW2\\ntomato(2) T AH0 M AA1 T OW2 # UK\\n")[1]
        ('tomato', ('T', 'AH0', 'M', 'AA1', 'T', 'OW2'))
    """
    name = source_name(source)
    entries = []
    for number, raw in enumerate(iter_lines(source), start=1):
        if raw.startswith(";;;"):
            continue
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) == 1:
            raise FormatError(name, f"line {number}", "a word followed by its phonemes", raw[:60])
        for phoneme in fields[1:]:
            if not _PHONEME.fullmatch(phoneme):
                raise FormatError(
                    name,
                    f"line {number}",
                    "phonemes of upper-case letters and an optional stress digit (e.g. AH0)",
                    repr(phoneme),
                )
        entries.append((_VARIANT.sub("", fields[0]), tuple(fields[1:])))
    return entries
