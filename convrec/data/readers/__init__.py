"""Readers of data files: bytes in, NumPy arrays out.

One module per format; each reader takes a path (str or Path) or the file's bytes (gzip data is
recognised by its magic bytes, except for WAV and ``.npz``), never unpickles, and raises
:class:`FormatError` (a ``ValueError``) naming the file and the position for anything malformed.
Sequences come out as ``(T, C)`` arrays, convrec's time-major convention.
"""

from convrec.data.readers.errors import FormatError
from convrec.data.readers.fasta import NUCLEOTIDES, PROTEIN, read_fasta
from convrec.data.readers.idx import read_idx
from convrec.data.readers.source import Source, read_source
from convrec.data.readers.tables import read_npz_arrays, read_sequences_csv, read_sequences_npz
from convrec.data.readers.ts import TsFile, read_ts
from convrec.data.readers.wav import Wav, read_wav

__all__ = [
    "NUCLEOTIDES",
    "PROTEIN",
    "FormatError",
    "Source",
    "TsFile",
    "Wav",
    "read_fasta",
    "read_idx",
    "read_npz_arrays",
    "read_sequences_csv",
    "read_sequences_npz",
    "read_source",
    "read_ts",
    "read_wav",
]
