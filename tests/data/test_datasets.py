"""Every dataset on a tiny fixture in its original format (``root=``), and on the real fetched files
(skipped where a source is not fetched; `.ci/run` fetches them all)."""

import gzip
import struct

import numpy as np
import pytest
import torch

from convrec.data.datasets import DATASETS, available_datasets, load_dataset
from convrec.data.sources import status
from convrec.data.store import DataMissingError
from convrec.data.tokenizers import UNK


def _idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _digit_table(path, count, pixels, top):
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.integers(0, top + 1, (count, pixels)), np.arange(count) % 10])
    with gzip.open(path, "wt") as file:
        np.savetxt(file, table, fmt="%d", delimiter=",")


def test_fashion_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 40), ("t10k", 10)):
        _idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        _idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    splits = load_dataset("fashion-mnist", root=tmp_path, validation_fraction=0.25)
    assert splits.sizes() == {"train": 30, "validation": 10, "test": 10}
    image, label = splits.test[3]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1 and label == 3
    assert splits.classes[9] == "Ankle boot"


@pytest.mark.parametrize(("name", "side", "top"), [("mnist-5k", 28, 255), ("digits", 8, 16)])
def test_digit_tables_are_split_stratified_and_seeded(tmp_path, name, side, top):
    _digit_table(tmp_path / f"{name.replace('-', '_')}.csv.gz", 100, side * side, top)
    splits = load_dataset(name, root=tmp_path, seed=1)
    assert splits.sizes() == {"train": 72, "validation": 8, "test": 20}  # 10% of 80
    assert torch.bincount(splits.test.targets).tolist() == [2] * 10
    assert splits.train[0][0].shape == (1, side, side) and splits.train[0][0].max() <= 1
    again, other = load_dataset(name, root=tmp_path, seed=1), load_dataset(name, root=tmp_path)
    assert torch.equal(again.test.targets, splits.test.targets)
    assert not torch.equal(other.test.inputs, splits.test.inputs)


def test_mnist1d_from_arrays(tmp_path):
    rng = np.random.default_rng(0)
    for name, shape in {"x": (50, 40), "x_test": (10, 40)}.items():
        np.save(tmp_path / f"{name}.npy", rng.normal(size=shape))
    np.save(tmp_path / "y.npy", np.arange(50) % 10)
    np.save(tmp_path / "y_test.npy", np.arange(10))
    splits = load_dataset("mnist1d", root=tmp_path)
    assert splits.sizes() == {"train": 45, "validation": 5, "test": 10}
    assert splits.test[4][0].shape == (40, 1) and splits.test[4][1] == 4


def _ts(path, cases, labels, header):
    lines = [f"@{key} {value}" for key, value in header.items()] + ["@data"]
    for case, label in zip(cases, labels, strict=True):
        lines.append(":".join(",".join(str(v) for v in channel) for channel in case) + f":{label}")
    path.write_text("\n".join(lines) + "\n")


def test_ucr_variable_length_classification_from_ts_files(tmp_path):
    header = {
        "problemName": "JapaneseVowels",
        "timeStamps": "false",
        "missing": "false",
        "univariate": "false",
        "dimensions": 2,
        "equalLength": "false",
        "classLabel": "true a b",
    }
    folder = tmp_path / "JapaneseVowels"
    folder.mkdir()
    cases = [[[1, 2, 3], [4, 5, 6]], [[7, 8], [9, 10]]] * 5
    for split in ("TRAIN", "TEST"):
        _ts(folder / f"JapaneseVowels_{split}.ts", cases, ["a", "b"] * 5, header)
    splits = load_dataset("japanese-vowels", root=tmp_path)
    assert splits.classes == ("a", "b") and splits.sizes() == {
        "train": 8,
        "validation": 2,
        "test": 10,
    }
    series, label = splits.test[1]
    assert series.tolist() == [[7, 9], [8, 10]] and label == 1  # (T, C): time first
    assert splits.info == {"channels": 2, "equal_length": False}


def test_ucr_regression_targets_are_floats(tmp_path):
    header = {"problemName": "Tecator", "univariate": "true", "targetLabel": "true"}
    cases = [[[1.0, 2.0]]] * 10
    for split in ("TRAIN", "TEST"):
        _ts(tmp_path / f"Tecator_{split}.ts", cases, [0.5 * i for i in range(10)], header)
    splits = load_dataset("tecator", root=tmp_path)
    assert splits.classes is None
    assert splits.test[3][1].dtype == torch.float32 and float(splits.test[3][1]) == 1.5


def test_dna_ids_and_one_hot_from_fasta(tmp_path):
    rng = np.random.default_rng(0)
    for file_name, count in [("sample.fa", 10), ("sample2.fa", 10), ("sample_test.fa", 2)]:
        records = ["".join(rng.choice(list("ACGTacgtN"), 200)) for _ in range(count)]
        text = "".join(f">chr1:{i}\n{r[:100]}\n{r[100:]}\n" for i, r in enumerate(records))
        (tmp_path / file_name).write_text(text)
    (tmp_path / "sample2_test.fa").write_text(">x\n" + "A" * 200 + "\n")
    splits = load_dataset("dna", root=tmp_path)
    assert splits.sizes() == {"train": 18, "validation": 2, "test": 3}
    assert splits.test.targets.tolist() == [0, 0, 1]
    assert splits.test[2][0].tolist() == [0] * 200
    one_hot = load_dataset("dna", root=tmp_path, one_hot=True)
    assert one_hot.test[2][0].shape == (200, 4) and one_hot.test[2][0][:, 0].sum() == 200


def test_reviews_vocabulary_comes_from_training_reviews_only(tmp_path):
    rows = "product,review,score\n" + "".join(
        f"p{i},Tasty snack number {i % 3}<br />again,{'great' if i % 2 else 'other'}\n"
        for i in range(20)
    )
    (tmp_path / "training_data.csv").write_text(rows)
    (tmp_path / "testing_data.csv").write_text(
        'product,review,score\nq,"Unseenword tasty, snack",great\nr,!!!,other\n'
    )
    splits = load_dataset("reviews", root=tmp_path)
    assert splits.classes == ("other", "great")
    ids, label = splits.test[0]
    assert splits.tokenizer.decode(ids.tolist()) == [UNK, "tasty", UNK, "snack"]  # "," is rare
    assert label == 1
    assert "br" not in splits.tokenizer.tokens
    assert len(splits.test[1][0]) >= 1


def test_fortunes_topics_and_the_character_corpus(tmp_path):
    for category in ("food", "law"):
        entries = [
            f"A {category} saying number {i}.\n\t-- _\bS_\bo_\bm_\be_\bo_\bn_\be" for i in range(20)
        ]
        (tmp_path / category).write_text("\n%\n".join(entries) + "\n%\n")
        (tmp_path / f"{category}.dat").write_bytes(b"\x00binary index")
    splits = load_dataset("fortunes", root=tmp_path)
    assert splits.classes == ("food", "law")
    assert sum(splits.sizes().values()) == 40
    assert "someone" in splits.tokenizer.tokens  # overstrike removed
    corpus = load_dataset("char-corpus", root=tmp_path, length=16)
    window, following = corpus.train[1]
    assert window.shape == following.shape == (16,)
    assert torch.equal(window[1:], following[:-1])
    assert "\b" not in corpus.tokenizer.tokens
    rows = load_dataset("char-corpus", root=tmp_path, length=16, train_length=48)
    row, _ = rows.train[0]  # three windows of contiguous text, for tbptt_steps=16
    assert torch.equal(row, torch.cat([corpus.train[i][0] for i in range(3)]))
    assert rows.validation[0][0].shape == (16,)  # validation and test keep their windows
    with pytest.raises(ValueError, match="`train_length`: expected a positive integer"):
        load_dataset("char-corpus", root=tmp_path, train_length=0)


@pytest.mark.parametrize(
    ("name", "file_name", "columns"),
    [
        ("sunspots", "sunspots.csv", "YEAR,SUNACTIVITY"),
        ("co2", "co2.csv", "date,co2"),
        ("elecdemand", "elecdemand.csv", "Demand,WorkDay,Temperature"),
    ],
)
def test_forecasting_windows_are_chronological_and_standardised(tmp_path, name, file_name, columns):
    count = 200
    width = len(columns.split(","))
    rows = [",".join(str(step * (c + 1)) for c in range(width)) for step in range(count)]
    if name == "co2":
        rows[50] = "50,"
    (tmp_path / file_name).write_text(columns + "\n" + "\n".join(rows) + "\n")
    splits = load_dataset(name, root=tmp_path, lookback=10, horizon=3)
    assert sum(splits.sizes().values()) == count - 10 - 3 * 2
    past, future = splits.validation[0]
    assert past.shape[0] == 10 and future.shape == (3,)
    target = splits.info["columns"].index(splits.info["target"])
    mean, std = splits.info["mean"][target], splits.info["std"][target]
    restored = past[:, target] * std + mean
    assert torch.allclose(torch.diff(restored), torch.full((9,), float(restored[1] - restored[0])))
    file_column = columns.split(",").index(splits.info["target"])
    assert float(future[0] * std + mean) == pytest.approx(140 * (file_column + 1), rel=1e-5)


def test_unknown_dataset_and_missing_root_are_clear(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset 'gun-point'.*'gunpoint'"):
        load_dataset("gun-point")
    with pytest.raises(FileNotFoundError, match="`root`: expected a folder"):
        load_dataset("gunpoint", root=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"GunPoint_TRAIN\.ts"):
        load_dataset("gunpoint", root=tmp_path)


def test_a_dataset_whose_source_is_not_fetched_says_how_to_fetch_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path))
    with pytest.raises(DataMissingError, match="convrec data fetch ucr"):
        load_dataset("gunpoint")


# Sizes from ../shared/DATA.md: (train + validation, test, classes).
REAL = {
    "fashion-mnist": (60000, 10000, 10),
    "mnist-5k": (4000, 1000, 10),
    "digits": (1438, 359, 10),
    "mnist1d": (4000, 1000, 10),
    "basic-motions": (40, 40, 4),
    "japanese-vowels": (270, 370, 9),
    "plaid": (537, 537, 11),
    "italy-power": (67, 1029, 2),
    "gunpoint": (50, 150, 2),
    "arrowhead": (36, 175, 3),
    "osuleaf": (200, 242, 6),
    "acsf1": (100, 100, 10),
    "covid3month": (140, 61, None),
    "tecator": (172, 43, None),
    "dna": (7797, 200, 2),
    "reviews": (4000, 1000, 2),
    "fortunes": (12174, 3043, 43),
}
SERIES_LENGTHS = {"sunspots": 309, "sunspot-month": 3177, "co2": 2284, "elecdemand": 17520}


def test_every_registered_dataset_has_a_real_data_check():
    speech = ["keywords", "welcome", "digit-strings"]  # test_keywords.py, test_digit_strings.py
    pronunciation = ["cmudict"]  # tested in test_pronunciation.py
    streams = ["ecg-anomalies", "yahoo-anomalies", "elecdemand-anomalies"]  # test_anomalies.py
    everything = [*REAL, *SERIES_LENGTHS, "char-corpus", *speech, *pronunciation, *streams]
    assert sorted(everything) == available_datasets()


def _fetched(name):
    source = DATASETS[name].source
    if status(source) != "fetched":
        pytest.skip(f"source {source} not fetched (convrec data fetch {source})")


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_classification_data_matches_data_md(name):
    _fetched(name)
    splits = load_dataset(name)
    train, test, classes = REAL[name]
    sizes = splits.sizes()
    assert (sizes["train"] + sizes["validation"], sizes["test"]) == (train, test)
    assert (len(splits.classes) if splits.classes else None) == classes
    if classes:
        labels = torch.cat([splits.train.targets, splits.validation.targets, splits.test.targets])
        assert set(labels.tolist()) == set(range(classes))


def test_collate_pads_variable_length_inputs_and_stacks_fixed_ones(tmp_path):
    folder = tmp_path / "jv"
    folder.mkdir()
    header = {"problemName": "JapaneseVowels", "dimensions": 1, "classLabel": "true a b"}
    cases = [[[1, 2, 3]], [[4]]] * 5
    for split in ("TRAIN", "TEST"):
        _ts(folder / f"JapaneseVowels_{split}.ts", cases, ["a", "b"] * 5, header)
    splits = load_dataset("japanese-vowels", root=folder)
    batch, labels = splits.collate([splits.test[0], splits.test[1]])
    assert batch.data.shape == (2, 3, 1) and batch.lengths.tolist() == [3, 1]
    assert labels.tolist() == [0, 1]
    _digit_table(tmp_path / "digits.csv.gz", 20, 64, 16)
    digits = load_dataset("digits", root=tmp_path)
    images, _ = digits.collate([digits.test[0], digits.test[1]])
    assert isinstance(images, torch.Tensor) and images.shape == (2, 1, 8, 8)


def test_real_japanese_vowels_and_plaid_lengths():
    _fetched("plaid")
    for name, shortest, longest, channels in [
        ("japanese-vowels", 7, 29, 12),
        ("plaid", 100, 1344, 1),
    ]:
        splits = load_dataset(name)
        parts = (splits.train, splits.validation, splits.test)
        lengths = [len(x) for part in parts for x in part.inputs]
        assert (min(lengths), max(lengths)) == (shortest, longest)
        assert splits.train[0][0].shape[1] == channels


@pytest.mark.parametrize("name", sorted(SERIES_LENGTHS))
def test_real_series_lengths(name):
    _fetched(name)
    splits = load_dataset(name, lookback=10, horizon=2)
    assert sum(splits.sizes().values()) == SERIES_LENGTHS[name] - 10 - 3 * 1


def test_real_character_corpus():
    _fetched("char-corpus")
    splits = load_dataset("char-corpus")
    assert splits.info["characters"] > 2_000_000
    assert 80 < len(splits.tokenizer) < 300
