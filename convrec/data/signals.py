"""1-D signal datasets: MNIST-1D and the UCR/UEA time-series archives.

Items are ``(series, target)``: ``series`` float32 ``(T, C)`` (time first, as every sequence in
convrec); ``target`` an int64 class id, or a float32 scalar for the regression archives. Lengths
vary in JapaneseVowels and PLAID: batch them with ``collate_padded`` (and a
``BucketBatchSampler``). Missing values (``?`` in a ``.ts`` file) stay NaN.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import numpy as np
import torch

from convrec.data.datasets import register_dataset
from convrec.data.filechecks import Floats, Integers
from convrec.data.readers.ts import TsFile, read_ts
from convrec.data.sources import FetchError, Generated, Source, Wheel, register_source, sha256sums
from convrec.data.splits import Pairs, Splits, data_folder, find_file, split_off_validation

UCR_ARCHIVES = {
    "basic-motions": "BasicMotions",
    "japanese-vowels": "JapaneseVowels",
    "plaid": "PLAID",
    "italy-power": "ItalyPowerDemand",
    "gunpoint": "GunPoint",
    "arrowhead": "ArrowHead",
    "osuleaf": "OSULeaf",
    "acsf1": "ACSF1",
    "covid3month": "Covid3Month",
    "tecator": "Tecator",
}


UCR_SHA256 = """
8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6  BasicMotions_TRAIN.ts
79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc  BasicMotions_TEST.ts
68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd  JapaneseVowels_TRAIN.ts
b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462  JapaneseVowels_TEST.ts
40deb3bc6bd1e1aa0e6db6e6bfd3cecc4a23bf57f6a6d6ab90fb75e4a2c72344  PLAID_TRAIN.ts
aa6da0dc1461e8d374e068a940ce37d1b0bb1a9844596d818920c8af696d656d  PLAID_TEST.ts
341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c  ItalyPowerDemand_TRAIN.ts
26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144  ItalyPowerDemand_TEST.ts
f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5  GunPoint_TRAIN.ts
79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e  GunPoint_TEST.ts
a83c470aaf611a5f5284377cce27a5fc9f6292bc3d110257b0fd4905ced5ee72  ArrowHead_TRAIN.ts
5417dab42626d41df5e435bb22458c2df40dfad4bcd3b59559bbe72e20e84904  ArrowHead_TEST.ts
86b9d6e860414ffd26cebc62fff84ffb37fa588ef3e5bf79e4094a437c36ddfc  OSULeaf_TRAIN.ts
6c549dd354f9e42d5985fa5fab75321ca9acefc7873457e71467fc8a31f107ce  OSULeaf_TEST.ts
0646b90dc4843e02baed6b2ba345c5601a4991b6796565489cef1b2d92a7537b  ACSF1_TRAIN.ts
93e8aaeb44a10af181d24a156e60da7021193cd990ca28f263fccf3b905bfebf  ACSF1_TEST.ts
8a58e6186143714d47dfeb2a24e954ef1fb5e7a1d72344b6bb9bbce10ccdfd6f  Covid3Month_TRAIN.ts
5bf6d4ce5cce67735f0893673221c86f10effe284cf4555a162060329b388bea  Covid3Month_TEST.ts
e38de03007d2d6f29181b07a972fb2048c19ea67fe92df8cf43818f1dcb45f95  Tecator_TRAIN.ts
3d06319c07274e6236d4b4d39e2d2a31e172a8a86510ab72ff50724463a22698  Tecator_TEST.ts
"""
UCR = register_source(
    Source(
        "ucr",
        Wheel(
            "sktime==1.2.0",
            tuple(
                f"sktime/datasets/data/{archive}/{archive}_{split}.ts"
                for archive in UCR_ARCHIVES.values()
                for split in ("TRAIN", "TEST")
            ),
        ),
        sha256sums(UCR_SHA256),
    )
)


def _build_mnist1d(workdir: Path) -> list[Path]:
    """MNIST-1D with its official arguments (the generator reseeds the global ``random`` and
    ``numpy.random``; their states are restored afterwards)."""
    try:
        import mnist1d.data
    except ImportError:
        raise FetchError(
            "mnist1d: the generator package is not installed; `pip install mnist1d` "
            "(or `pip install 'convrec[data]'`)."
        ) from None
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    files = []
    for key in ("x", "y", "x_test", "y_test", "t"):
        files.append(workdir / f"{key}.npy")
        np.save(files[-1], np.ascontiguousarray(data[key]))
    return files


# Generated in floating point, whose last bits differ between machines: the values are checked
# to a tolerance, the labels exactly (convrec.data.filechecks).
# fmt: off
MNIST1D_VALUES = {
    "x.npy": Floats((4000, 40), (
        -802.607063024435, -108.240803121973, 466.972770330235, 553.028154699236,
        -990.485456342315, 393.215445034091, 209.3145718864, 482.172642731488,
        -150.280846089701, -15.1829775874549, 324.812981524157, 60.1412424671871,
        228.597103064552, 381.89970409894, -90.1265780692026, 360.590891683322,
        138.550685963761, 657.205787843266, 364.878530512307, -314.932501053068,
        198.093533584076, -13.6820734893758, 342.264215700076, -204.312288612125,
        32.0921427538501, -256.351008338473, 41.4062832970225, -327.767490200041,
        343.594862282979, -600.349716088052, -531.004454498902, -371.092686112786,
        -51.7874678750956, 159248.253865349,
    )),
    "y.npy": Integers(
        (4000,), "d97dc7aecec8ad6b5d8f143ba3e9c4bd7e25c420d7dfc2eb990591cfc0ed3e15"
    ),
    "x_test.npy": Floats((1000, 40), (
        -378.508171018845, -79.7936537623041, -138.634470109429, -49.405125063404,
        -92.8173002244371, -223.433431907736, -301.925923357958, -278.077502984807,
        150.039855198799, -88.8571116523719, -184.32341196755, 92.1828930863349,
        449.008291935401, -23.1601717147863, 103.772158101249, 103.421232538623,
        -70.7369791009799, -39.8230467368, 41.4917068968941, -56.7109984682164,
        -20.6103212898036, -105.273124263817, -217.824301460934, -185.363363977261,
        -252.092856232907, 209.099579375327, -8.97798294946105, -33.3239972754276,
        -252.694746438592, -258.912266667521, -97.4621077967698, 208.721064135718,
        51.7874678750919, 40751.7461346514,
    )),
    "y_test.npy": Integers(
        (1000,), "8de99be3ff9dab15ae0dc072c3d6ced7cf6b33d365888ce4a386fc944489452c"
    ),
    "t.npy": Floats((40,), (
        -9.11736703596107, 9.11736703596107, -9.11736703596107, 9.11736703596107,
        -12.1564893812814, 12.1564893812814, -12.1564893812814, 12.1564893812814,
        -16.3007471249001, 16.3007471249001, -16.3007471249001, 16.3007471249001,
        -25.9706818600103, 25.9706818600103, -25.9706818600103, 25.9706818600103,
        26.7995334087341, -26.7995334087341, 26.7995334087341, -26.7995334087341,
        6.63081238978987, -6.63081238978987, 6.63081238978987, -6.63081238978987,
        -47.797105976402, 47.797105976402, -47.797105976402, 47.797105976402,
        -1.38141924787289, 1.38141924787289, -1.38141924787289, 1.38141924787289,
        -2.1316282072803e-14, 406.853640305537,
    )),
}
# fmt: on
MNIST1D = register_source(
    Source("mnist1d", Generated("built with the mnist1d package", _build_mnist1d), MNIST1D_VALUES)
)


@register_dataset("mnist1d", MNIST1D, "MNIST-1D: 40-sample 1-D digits, 3.6k/400/1k")
def mnist1d(
    root: str | Path | None = None, seed: int = 0, validation_fraction: float = 0.1
) -> Splits:
    """MNIST-1D (Greydanus 2020): the ten digit templates as 40-sample 1-D signals, shifted,
    scaled, sheared and noised; 4,000 training (400 held out for validation) and 1,000 test
    signals, each ``(40, 1)``.

    ``root``: a folder with ``x.npy``, ``y.npy``, ``x_test.npy``, ``y_test.npy`` (the arrays of
    the official pickle).
    """
    folder = data_folder("mnist1d", "mnist1d", root)

    def array(name: str) -> np.ndarray:
        return np.load(find_file(folder, [f"{name}.npy"], "mnist1d"), allow_pickle=False)

    def pairs(x: np.ndarray, y: np.ndarray) -> Pairs:
        series = torch.from_numpy(x.astype(np.float32)).unsqueeze(-1)
        return Pairs(series, torch.from_numpy(y.astype(np.int64)))

    train, validation = split_off_validation(
        pairs(array("x"), array("y")), validation_fraction, seed
    )
    test = pairs(array("x_test"), array("y_test"))
    return Splits("mnist1d", train, validation, test, tuple(str(digit) for digit in range(10)))


def _pairs(archive: TsFile, classes: tuple[str, ...] | None) -> Pairs:
    series = [torch.from_numpy(case.astype(np.float32)) for case in archive.series]
    if classes is None:
        return Pairs(series, torch.from_numpy(archive.labels.astype(np.float32)))
    index = {name: position for position, name in enumerate(classes)}
    return Pairs(series, torch.tensor([index[label] for label in archive.labels]))


def ucr(
    name: str,
    root: str | Path | None = None,
    seed: int = 0,
    validation_fraction: float = 0.2,
) -> Splits:
    """One archive of the UCR/UEA collection with its official train/test split; the validation
    split is held out of the training split (stratified for classification).

    Args:
        name: a key of :data:`UCR_ARCHIVES` (``basic-motions``, ``japanese-vowels``, ...).
        root: a folder with ``<Name>_TRAIN.ts`` and ``<Name>_TEST.ts`` (directly or in a
            ``<Name>/`` sub-folder), as in the archive's download.
    """
    stem = UCR_ARCHIVES[name]
    folder = data_folder("ucr", name, root)

    def read(split: str) -> TsFile:
        file_name = f"{stem}_{split}.ts"
        return read_ts(find_file(folder, [file_name, f"{stem}/{file_name}"], name))

    train_file, test_file = read("TRAIN"), read("TEST")
    classes = train_file.class_names
    train, validation = split_off_validation(
        _pairs(train_file, classes), validation_fraction, seed, stratify=classes is not None
    )
    info = {"channels": train_file.dimensions, "equal_length": train_file.equal_length}
    return Splits(
        name,
        train,
        validation,
        _pairs(test_file, classes),
        classes,
        info=info,
        variable_length=True,
    )


for _name, _archive in UCR_ARCHIVES.items():
    register_dataset(_name, UCR, f"UCR/UEA archive {_archive}")(partial(ucr, _name))
