"""Your own images: class folders of any format, mode and size train, predict and evaluate from
files alone; bad folders and files are one clear error with nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import convrec
from convrec.data.image_augment import Augmented
from convrec.data.image_files import decode, list_images, survey
from convrec.data.splits import LazyInputs, Pairs
from convrec.errors import UserError
from convrec.tasks import create_task
from convrec.train.checkpoint import read_checkpoint
from convrec.train.trained import evaluate

FORMATS = [
    ("png", "L"),
    ("jpg", "RGB"),
    ("bmp", "RGB"),
    ("gif", "P"),
    ("tiff", "I;16"),
    ("png", "RGBA"),
]


def picture(
    bright: bool, size: tuple[int, int], mode: str, rng: np.random.Generator
) -> Image.Image:
    """A bright or dark square with noise, in ``mode``."""
    level = 200 if bright else 40
    pixels = np.clip(level + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    if mode == "I;16":  # 16-bit grey, as scientific cameras write
        return Image.fromarray(pixels[..., 0].astype(np.uint16) * 257)
    return image.convert(mode)


def image_folder(
    root: Path, per_class: int = 12, seed: int = 0, classes=("bright", "dark")
) -> Path:
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            suffix, mode = FORMATS[index % len(FORMATS)]
            size = (16, 16) if index % 3 else (20, 14)
            picture(name == "bright", size, mode, rng).save(root / name / f"{index}.{suffix}")
    return root


def test_every_format_and_mode_becomes_one_layout(tmp_path):
    folder = list_images(image_folder(tmp_path / "data"))
    assert folder.labels[:3] == ["bright"] * 3 and len(folder.files) == 24
    colour, common = survey(folder.files)
    assert colour and common == (16, 16)
    for path in folder.files:
        pixels = decode(path, 3, (16, 16))
        assert pixels.shape == (3, 16, 16) and pixels.dtype == np.uint8
        bright = "bright" in path.parts[-2]
        assert (pixels.mean() > 120) == bright, path  # modes and alpha read right
    assert decode(folder.files[0], 1, (8, 8)).shape == (1, 8, 8)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    data = image_folder(folder / "data", per_class=16)
    test = image_folder(folder / "test", per_class=6, seed=1)
    run = convrec.train(
        "images",
        epochs=6,
        batch_size=8,
        progress=False,
        out=str(folder / "runs"),
        task_options={"data": str(data), "test": str(test), "augment": "flip+crop"},
    )
    return run, folder


def test_a_run_on_a_folder_learns_and_saves_what_prediction_needs(trained_run):
    run, _ = trained_run
    assert run.metrics["test"]["test"]["accuracy"] >= 0.9
    state = convrec.load(run.directory).description["task_state"]
    assert state["classes"] == ["bright", "dark"]
    assert state["image_size"] == [16, 16] and state["channels_kept"] == 3


def test_predict_a_folder_or_one_file_and_evaluate_in_a_fresh_process(trained_run, tmp_path):
    run, folder = trained_run
    for target, count in ((folder / "test", 12), (folder / "test" / "dark" / "0.png", 1)):
        out = tmp_path / f"out{count}.csv"
        command = ["predict", str(run.directory), str(target), "--out", str(out)]
        result = subprocess.run(
            [sys.executable, "-m", "convrec.cli", *command], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        lines = out.read_text().splitlines()
        assert lines[0] == "id,predicted,p_bright,p_dark" and len(lines) == count + 1
        rows = [line.split(",")[:2] for line in lines[1:]]
        if count > 1:  # ids are paths in the folder, so their class folder is the truth
            assert np.mean([name.split("/")[0] == guess for name, guess in rows]) >= 0.9
    scored = evaluate(run.directory, folder / "test")
    assert scored["test"]["accuracy"] == run.metrics["test"]["test"]["accuracy"]


def test_grayscale_and_a_size_can_be_asked_for(tmp_path):
    from convrec.tasks import create_task

    data = image_folder(tmp_path / "data", per_class=4)
    task = create_task("images", data=str(data), grayscale=True, image_size=[10, 12])
    split = task.build_data(seed=0)
    image, _ = split.train[0]
    assert image.shape == (1, 10, 12) and task.input_shape == (1, 10, 12)


def test_augmentation_flips_and_shifts_from_the_seeded_generator():
    images = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    augmented = Augmented(Pairs(images, torch.tensor([0, 1])), flip=True, crop=True)
    torch.manual_seed(3)
    first = [augmented[index % 2][0] for index in range(20)]
    torch.manual_seed(3)
    again = [augmented[index % 2][0] for index in range(20)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(item.shape == (1, 6, 6) for item in first)
    assert any(not torch.equal(item, images[index % 2]) for index, item in enumerate(first))


def test_channels_last_trains_the_same_network_with_channels_last_weights(tmp_path):
    data = image_folder(tmp_path / "data", per_class=8)
    runs = {
        layout: convrec.train(
            "images",
            "resnet",
            epochs=2,
            batch_size=8,
            progress=False,
            out=str(tmp_path / f"runs-{layout}"),
            channels_last=layout,
            task_options={"data": str(data)},
            model_options={"widths": [16, 16], "blocks_per_stage": 1},
        )
        for layout in (False, True)
    }
    weights = {
        layout: read_checkpoint(run.directory / "checkpoints" / "epoch-0002")["model"]
        for layout, run in runs.items()
    }
    stem = "features.0.0.weight"
    assert weights[True][stem].is_contiguous(memory_format=torch.channels_last)
    assert not weights[False][stem].is_contiguous(memory_format=torch.channels_last)
    for name, value in weights[False].items():
        torch.testing.assert_close(weights[True][name], value, rtol=1e-4, atol=1e-5)
    loaded = convrec.load(runs[True].directory).model.state_dict()
    torch.testing.assert_close(loaded[stem], weights[True][stem].contiguous())


def test_channels_last_is_refused_where_the_cpu_convolution_would_corrupt_memory(tmp_path):
    data = image_folder(tmp_path / "data", per_class=4)
    with pytest.raises(UserError, match=r"channels_last.*features\.2\.shortcut.* has 4"):
        convrec.train(
            "images",
            "resnet",
            epochs=1,
            progress=False,
            out=str(tmp_path / "runs"),
            channels_last=True,
            task_options={"data": str(data)},
            model_options={"widths": [4, 8], "blocks_per_stage": 1},
        )
    assert not (tmp_path / "runs").exists()


def broken(root: Path, case: str) -> Path:
    """A folder with one problem."""
    rng = np.random.default_rng(0)
    if case == "empty":
        root.mkdir()
    elif case == "loose":
        image_folder(root, 2)
        picture(True, (8, 8), "L", rng).save(root / "stray.png")
    elif case == "one-class":
        image_folder(root, 4, classes=("only",))
    elif case == "one-image":
        image_folder(root, 4)
        (root / "rare").mkdir()
        picture(True, (8, 8), "L", rng).save(root / "rare" / "0.png")
    elif case == "empty-class":
        image_folder(root, 4)
        (root / "nothing").mkdir()
    elif case == "truncated":
        image_folder(root, 4)
        whole = (root / "bright" / "0.png").read_bytes()
        (root / "bright" / "0.png").write_bytes(whole[: len(whole) // 2])
    elif case == "not-an-image":
        image_folder(root, 4)
        (root / "dark" / "notes.png").write_text("not a picture")
    return root


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", r"expected one subfolder of images per class, found no class folder"),
        ("loose", r"expected images inside class subfolders.*stray\.png"),
        ("one-class", r"expected at least two classes"),
        ("one-image", r"the class 'rare' has only one of the images"),
        ("empty-class", r"nothing: expected images of class 'nothing'"),
        ("truncated", r"bright/0\.png, byte 0: expected a whole, readable image"),
        ("not-an-image", r"notes\.png, byte 0: expected an image"),
    ],
)
def test_a_bad_folder_is_one_clear_error_and_nothing_is_written(tmp_path, case, message):
    data = broken(tmp_path / "data", case)
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=message):
        convrec.train(
            "images", epochs=1, progress=False, out=str(out), task_options={"data": str(data)}
        )
    assert not out.exists()


def test_test_images_of_a_class_never_seen_are_refused(tmp_path):
    data = image_folder(tmp_path / "data", 4)
    test = image_folder(tmp_path / "test", 2, classes=("bright", "blurry"))
    with pytest.raises(UserError, match=r"labels never seen in training: 'blurry'"):
        convrec.train(
            "images",
            epochs=1,
            progress=False,
            out=str(tmp_path / "runs"),
            task_options={"data": str(data), "test": str(test)},
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_size": 0}, r"`image_size`: expected a positive integer or a tuple of 2"),
        ({"augment": "rotate"}, r"`augment`: expected one of 'none', 'flip', 'crop'"),
        ({"grayscale": "yes"}, r"`grayscale`: expected true, false or none"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    data = image_folder(tmp_path / "data", 2)
    with pytest.raises(UserError, match=message):
        convrec.train("images", task_options={"data": str(data), **options})


def test_lazy_images_are_decoded_on_demand_and_equal_the_eager_ones(tmp_path):
    data = image_folder(tmp_path / "data", per_class=10)
    eager = create_task("images", data=str(data)).build_data(0)
    lazy_task = create_task("images", data=str(data), lazy=True)
    lazy = lazy_task.build_data(0)
    assert isinstance(lazy.train.inputs, LazyInputs)  # nothing decoded but on demand
    assert len(lazy.train) == len(eager.train) and len(lazy.tests["test"]) == 4
    for index in range(len(eager.train)):
        assert torch.allclose(lazy.train[index][0], eager.train[index][0], atol=1e-5)
        assert lazy.train[index][1] == eager.train[index][1]
    run = convrec.train(
        "images",
        epochs=1,
        batch_size=4,
        progress=False,
        out=str(tmp_path / "runs"),
        data=data,
        task_options={"lazy": True},
        model_options={"widths": [4, 8], "blocks_per_stage": 1},
    )
    assert 0 <= run.metrics["test"]["test"]["accuracy"] <= 1


def test_integer_pixels_are_refused_with_what_to_do(trained_run):
    run, _ = trained_run
    trained = convrec.load(run.directory)
    eight_bit = np.full((3, 16, 16), 200, dtype=np.uint8)
    with pytest.raises(UserError, match=r"expected float pixels in \[0, 1\] .*divide 8-bit"):
        trained.predict([eight_bit])
    assert trained.predict([eight_bit / 255])[0].shape == (2,)
