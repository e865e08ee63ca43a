"""DNA binding-site classification: Oct4 versus Mafk ChIP-seq peaks (200 bp, mouse).

The sequences come from janggu's example data: 3,897 Oct4 and 3,900 Mafk training peaks, 100 of
each for testing. Items are ``(sequence, label)``: ``sequence`` int64 ``(200,)`` ids over
``A C G T N`` (for an ``Embedding``) or float32 ``(200, 4)`` one-hot (``one_hot=True``, for a
DeepBind-style ``Conv1d`` over the four channels); ``label`` 0 for Oct4, 1 for Mafk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from convrec.data.datasets import register_dataset
from convrec.data.readers.fasta import read_fasta
from convrec.data.sources import Source, Wheel, register_source, sha256sums
from convrec.data.splits import Pairs, Splits, data_folder, find_file, split_off_validation
from convrec.data.tokenizers import encode_dna, one_hot_dna

FACTORS = ("Oct4", "Mafk")
_FILES = {"train": ("sample.fa", "sample2.fa"), "test": ("sample_test.fa", "sample2_test.fa")}
PEAKS_SHA256 = """
effef1417ad2ca12514d5a4fe72741aaada7b29c16553655c4ed84ad83640e82  sample.fa
0228f9e016bd91c642526136270b4efef75dc2916f906d47785fbe11c0fb94f8  sample2.fa
8972da4ec4dd2de58f52da113eb2d5c79d1584fb2662aa3a43349e78b0b23724  sample_test.fa
014cdfc16a3b57fc98f4bf8a7885dbbdf8f9e4a6b03a381365a8ddb415f27f5f  sample2_test.fa
"""
PEAKS = register_source(
    Source(
        "dna",
        Wheel(
            "janggu==0.10.2",
            tuple(f"janggu/resources/{name}" for names in _FILES.values() for name in names),
        ),
        sha256sums(PEAKS_SHA256),
    )
)


@register_dataset("dna", PEAKS, "Oct4 vs Mafk ChIP-seq peaks, 200 bp, 7.8k/200")
def dna(
    root: str | Path | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    one_hot: bool = False,
) -> Splits:
    """Oct4 vs Mafk peaks; the validation split is held out of the training peaks (stratified).

    ``root``: a folder with janggu's ``sample.fa`` and ``sample2.fa`` (training) and
    ``sample_test.fa`` and ``sample2_test.fa`` (test).
    """
    folder = data_folder("dna", "dna", root)
    encode = one_hot_dna if one_hot else encode_dna

    def read(split: str) -> Pairs:
        sequences, labels = [], []
        for label, file_name in enumerate(_FILES[split]):
            records = read_fasta(find_file(folder, [file_name], "dna"))
            sequences += [encode(sequence) for _, sequence in records]
            labels += [label] * len(records)
        return Pairs(torch.stack(sequences), torch.from_numpy(np.array(labels, dtype=np.int64)))

    train, validation = split_off_validation(read("train"), validation_fraction, seed)
    return Splits("dna", train, validation, read("test"), FACTORS, info={"one_hot": one_hot})
