"""Your own audio: class folders of clips at any rate, encoding and length train, predict and
evaluate from files alone; bad folders and files are one clear error with nothing written; a
keyword-recipe run predicts audio files at any rate and of any length."""

from __future__ import annotations

import csv
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.data.audio_files import fit_length, list_audio, load_audio, read_audio
from convrec.data.speech import resample
from convrec.data.splits import Pairs
from convrec.errors import UserError
from convrec.models import create
from convrec.tasks import create_task
from convrec.tasks.audio import SpecAugmented
from convrec.train.model_files import save_model
from convrec.train.trained import evaluate
from tests.data.test_keywords import needs_espeak

CLASSES = ("high", "low", "noise")
ENCODINGS = [  # (sample rate, bits, float, channels): every file of a class differs in each
    (16_000, 16, False, 1),
    (22_050, 24, False, 2),
    (16_000, 8, False, 1),
    (44_100, 32, False, 2),
    (8_000, 32, True, 1),
]


def write_wav(path: Path, samples: np.ndarray, rate: int, bits: int = 16, floats: bool = False):
    """``samples (S,)`` or ``(S, C)`` in [-1, 1] as a WAV of ``bits``-bit PCM or IEEE floats."""
    frames = samples[:, None] if samples.ndim == 1 else samples  # (S, C)
    if floats:
        data = frames.astype("<f4").tobytes()
    elif bits == 8:
        data = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
    elif bits == 24:
        values = np.round(frames * (2**23 - 1)).astype("<i4")
        data = values.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()
    else:
        data = np.round(frames * (2 ** (bits - 1) - 1)).astype(f"<i{bits // 8}").tobytes()
    channels = frames.shape[1]
    block = channels * bits // 8
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 3 if floats else 1, channels),
        *(rate, rate * block, block, bits, b"data", len(data)),
    )
    path.write_bytes(header + data)


def sound(kind: str, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A 440 Hz (``low``) or 3 kHz (``high``) tone, or white noise, at a random level."""
    time = np.arange(round(seconds * rate)) / rate
    level = rng.uniform(0.2, 0.6)
    if kind == "noise":
        return level * rng.uniform(-1, 1, len(time))
    frequency = 440.0 if kind == "low" else 3_000.0
    tone = np.sin(2 * np.pi * frequency * time + rng.uniform(0, 2 * np.pi))
    return level * tone + 0.02 * rng.standard_normal(len(time))


def audio_folder(root: Path, per_class: int = 10, seed: int = 0, classes=CLASSES) -> Path:
    """Clips of 0.2 to 0.4 s, each in the next encoding of :data:`ENCODINGS`."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            rate, bits, floats, channels = ENCODINGS[index % len(ENCODINGS)]
            mono = sound(name, rng.uniform(0.2, 0.4), rate, rng)
            samples = np.stack([mono, 0.5 * mono], axis=1) if channels == 2 else mono
            write_wav(root / name / f"{index}.wav", samples, rate, bits, floats)
    return root


@pytest.mark.parametrize(("rate", "bits", "floats", "channels"), ENCODINGS)
def test_every_encoding_reads_to_one_mono_waveform_at_the_asked_rate(
    tmp_path, rate, bits, floats, channels
):
    mono = sound("low", 0.25, rate, np.random.default_rng(0))
    samples = np.stack([mono, 0.5 * mono], axis=1) if channels == 2 else mono
    write_wav(tmp_path / "clip.wav", samples, rate, bits, floats)
    clip = load_audio(tmp_path / "clip.wav")
    expected = mono * (0.75 if channels == 2 else 1.0)  # the channels' mean
    assert clip.sample_rate == rate and clip.samples.dtype == np.float32
    np.testing.assert_allclose(clip.samples, expected, atol=0.01 if bits == 8 else 1e-4)
    waveform = read_audio(tmp_path / "clip.wav", 16_000)
    assert waveform.shape == (4_000,) and waveform.dtype == np.float32
    np.testing.assert_allclose(waveform, resample(expected, rate, 16_000), atol=0.02)


def test_flac_and_ogg_read_through_soundfile(tmp_path):
    import soundfile  # in the test extra

    mono = sound("low", 0.25, 22_050, np.random.default_rng(0))
    soundfile.write(tmp_path / "clip.flac", np.stack([mono, mono], axis=1), 22_050)
    soundfile.write(tmp_path / "clip.ogg", mono, 22_050)
    np.testing.assert_allclose(load_audio(tmp_path / "clip.flac").samples, mono, atol=1e-4)
    vorbis = read_audio(tmp_path / "clip.ogg", 16_000)  # lossy: close in shape, not in samples
    reference = resample(mono, 22_050, 16_000)
    assert len(vorbis) == len(reference) and np.corrcoef(vorbis, reference)[0, 1] > 0.99


def test_flac_without_soundfile_says_how_to_get_it(tmp_path, monkeypatch):
    (tmp_path / "clip.flac").write_bytes(b"fLaC")
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(UserError, match=r"clip\.flac: reading \.flac files needs the soundfile"):
        load_audio(tmp_path / "clip.flac")


def test_a_clip_is_fitted_by_padding_with_silence_or_keeping_its_loudest_stretch():
    burst = np.zeros(1_000, np.float32)
    burst[700:750] = 1.0
    kept = fit_length(burst, 100)
    assert kept.shape == (100,) and kept.sum() == 50  # the whole burst, wherever it lay
    padded = fit_length(burst[690:760], 100)
    assert padded.shape == (100,) and np.array_equal(padded[:70], burst[690:760])
    assert not padded[70:].any()


def test_options_set_the_rate_the_length_and_the_front_end(tmp_path):
    data = audio_folder(tmp_path / "data", per_class=5)
    options = {"sample_rate": 8_000, "duration": 0.3, "front_end": "log-mel"}
    task = create_task("audio", data=str(data), spec_augment=True, **options)
    split = task.build_data(seed=0)
    assert task.clip_length == 2_400 and task.input_shape == (31, 40)  # 1 + 2400 // 80 frames
    assert isinstance(split.train, SpecAugmented) and task.seconds_per_step == 0.01
    torch.manual_seed(0)
    first = [split.train[0][0] for _ in range(3)]
    torch.manual_seed(0)
    again = [split.train[0][0] for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], split.train.pairs[0][0])  # masks were drawn
    defaults = create_task("audio", data=str(data))
    defaults.build_data(seed=0)
    summary = defaults.data_summary()
    assert summary["sample_rate"] == 16_000 and summary["front_end"] == "mfcc"  # most common
    longest = max(len(read_audio(path, 16_000)) for path in list_audio(data).files)
    assert defaults.clip_length == longest and defaults.input_shape == (1 + longest // 160, 40)


def test_training_clips_can_come_after_another_clip_as_in_a_stream(tmp_path):
    data = audio_folder(tmp_path / "data", per_class=5)
    task = create_task("audio", data=str(data), front_end="framewise-mfcc", after_another_clip=True)
    split = task.build_data(seed=0)
    plain = split.train.pairs  # the training items as they are
    frames = task.input_shape[0]
    torch.manual_seed(0)
    features, label = split.train[3]
    assert features.shape == (2 * frames, 40) and label == plain[3][1]
    assert torch.equal(features[frames:], plain[3][0])  # the clip itself comes second
    assert any(torch.equal(features[:frames], plain[k][0]) for k in range(len(plain)))
    assert torch.equal(split.train.targets, plain.targets)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    data = audio_folder(folder / "data", per_class=10)
    test = audio_folder(folder / "test", per_class=4, seed=1)
    run = convrec.train(
        "audio",
        epochs=8,
        batch_size=8,
        model_options={"channels": [16], "hidden_size": 16},
        progress=False,
        out=str(folder / "runs"),
        task_options={"data": str(data), "test": str(test)},
    )
    return run, folder


def test_a_run_on_a_folder_learns_and_saves_what_prediction_needs(trained_run):
    run, _ = trained_run
    assert run.metrics["test"]["test"]["accuracy"] >= 0.9
    state = convrec.load(run.directory).description["task_state"]
    assert state["classes"] == list(CLASSES) and state["sample_rate"] == 16_000
    assert state["front_end"] == {
        "name": "mfcc",
        "n_fft": 512,
        "hop_length": 160,
        "win_length": 400,
        "n_mels": 40,
    }


def _predict_in_a_fresh_process(run_dir: Path, target: Path, out: Path) -> list[list[str]]:
    command = ["predict", str(run_dir), str(target), "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "convrec.cli", *command], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    with out.open() as file:
        return list(csv.reader(file))


def test_predict_clips_of_any_rate_and_length_and_evaluate_in_a_fresh_process(
    trained_run, tmp_path
):
    run, folder = trained_run
    rng = np.random.default_rng(5)
    (tmp_path / "new").mkdir()
    for name, seconds in (("high", 1.3), ("low", 0.15), ("noise", 0.6)):  # longer and shorter
        samples = np.stack([sound(name, seconds, 48_000, rng)] * 2, axis=1)
        write_wav(tmp_path / "new" / f"{name}.wav", samples, 48_000, 24)
    rows = _predict_in_a_fresh_process(run.directory, tmp_path / "new", tmp_path / "out.csv")
    assert rows[0] == ["id", "predicted", "p_high", "p_low", "p_noise"]
    assert [row[:2] for row in rows[1:]] == [[f"{name}.wav", name] for name in CLASSES]
    trained = convrec.load(run.directory)
    waveform = read_audio(tmp_path / "new" / "high.wav", 16_000)
    (probabilities,) = trained.predict([waveform])  # the Python API: any length at 16 kHz
    np.testing.assert_allclose(probabilities, [float(p) for p in rows[1][2:]], atol=1e-5)
    scored = evaluate(run.directory, folder / "test")
    assert scored["test"]["accuracy"] == run.metrics["test"]["test"]["accuracy"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("clip_length", 10**12, r"`clip_length`: expected an integer in \[1, 57600000\]"),
        ("sample_rate", 0, r"`sample_rate`: expected a rate in \[4000, 384000\] Hz, got 0"),
        ("front_end", {"name": "mfcc", "n_fft": 2**40}, r"`front_end\.n_fft`: expected an"),
        ("clip_length", 8_000, r"`shape`: expected \(51, 40\), the frames and features"),
    ],
)
def test_a_tampered_run_is_refused_before_anything_is_allocated(
    trained_run, tmp_path, key, value, message
):
    run, _ = trained_run
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("model.json", "model.safetensors"):
        (copy / name).write_bytes((run.directory / name).read_bytes())
    description = json.loads((copy / "model.json").read_text())
    state = description["task_state"]
    state[key] = state[key] | value if isinstance(value, dict) else value
    (copy / "model.json").write_text(json.dumps(description))
    with pytest.raises(UserError, match=message):
        convrec.load(copy)


def broken(root: Path, case: str) -> Path:
    """A folder with one problem."""
    rng = np.random.default_rng(0)
    if case == "empty":
        root.mkdir()
    elif case == "loose":
        audio_folder(root, 2)
        write_wav(root / "stray.wav", sound("low", 0.1, 8_000, rng), 8_000)
    elif case == "one-class":
        audio_folder(root, 4, classes=("only",))
    elif case == "one-clip":
        audio_folder(root, 4)
        (root / "rare").mkdir()
        write_wav(root / "rare" / "0.wav", sound("low", 0.1, 8_000, rng), 8_000)
    elif case == "empty-class":
        audio_folder(root, 4)
        (root / "nothing").mkdir()
    elif case == "truncated":
        audio_folder(root, 4)
        whole = (root / "low" / "1.wav").read_bytes()
        (root / "low" / "1.wav").write_bytes(whole[: len(whole) // 2])
    elif case == "not-audio":
        audio_folder(root, 4)
        (root / "noise" / "notes.wav").write_text("not a sound")
    elif case == "no-samples":
        audio_folder(root, 4)
        write_wav(root / "high" / "silent.wav", np.zeros(0), 16_000)
    elif case == "nan":
        audio_folder(root, 4)
        write_wav(root / "high" / "nan.wav", np.full(100, np.nan), 16_000, 32, floats=True)
    elif case == "too-short":
        for name in ("a", "b"):
            (root / name).mkdir(parents=True)
            for index in range(4):
                write_wav(root / name / f"{index}.wav", sound("low", 0.005, 16_000, rng), 16_000)
    return root


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", r"expected one subfolder of audio files per class, found no class folder"),
        ("loose", r"expected audio files inside class subfolders.*stray\.wav"),
        ("one-class", r"expected at least two classes"),
        ("one-clip", r"the class 'rare' has only one of the clips"),
        ("empty-class", r"nothing: expected audio files of class 'nothing'"),
        ("truncated", r"low/1\.wav, byte 36: expected \d+ bytes of audio .* the file is truncated"),
        ("not-audio", r"notes\.wav, byte 0: expected a RIFF/WAVE header"),
        ("no-samples", r"silent\.wav, the audio data: expected at least one sample, got none"),
        ("nan", r"nan\.wav, the audio data: expected finite samples, got NaN or infinite ones"),
        ("too-short", r"expected clips of at least one 25 ms analysis frame, got .* 5 ms"),
    ],
)
def test_a_bad_folder_is_one_clear_error_and_nothing_is_written(tmp_path, case, message):
    data = broken(tmp_path / "data", case)
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=message) as caught:
        convrec.train(
            "audio", epochs=1, progress=False, out=str(out), task_options={"data": str(data)}
        )
    assert "\n" not in str(caught.value)
    assert not out.exists()


def test_test_clips_of_a_class_never_seen_are_refused(tmp_path):
    data = audio_folder(tmp_path / "data", 4)
    test = audio_folder(tmp_path / "test", 2, classes=("low", "hum"))
    out = tmp_path / "runs"
    with pytest.raises(
        UserError, match=r"the test clips have labels never seen in training: 'hum'"
    ):
        convrec.train(
            "audio",
            epochs=1,
            progress=False,
            out=str(out),
            task_options={"data": str(data), "test": str(test)},
        )
    assert not out.exists()


def test_an_inferred_rate_a_run_could_not_load_is_refused_when_training(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("low", "high"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for index in range(3):
            write_wav(
                tmp_path / "data" / label / f"{index}.wav", sound(label, 0.5, 2_000, rng), 2_000
            )
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=r"most common rate of .*`sample_rate`: expected a rate in"):
        convrec.train("audio", epochs=1, progress=False, out=str(out), data=tmp_path / "data")
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sample_rate": 100}, r"`sample_rate`: expected a rate in \[4000, 384000\] Hz, got 100"),
        ({"sample_rate": 16e3}, r"`sample_rate`: expected a whole number of Hz, got 16000\.0"),
        ({"duration": -1}, r"`duration`: expected a positive finite number, got -1"),
        ({"duration": 0.01}, r"`duration`: expected at least one 25 ms analysis frame, got 0\.01"),
        (
            {"front_end": "mel"},
            r"`front_end`: expected one of 'mfcc', 'log-mel', 'framewise-mfcc', got 'mel'",
        ),
        ({"spec_augment": "yes"}, r"`spec_augment`: expected true or false, got 'yes'"),
        ({"after_another_clip": 1}, r"`after_another_clip`: expected true or false, got 1"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    data = audio_folder(tmp_path / "data", 2)
    with pytest.raises(UserError, match=message):
        convrec.train("audio", progress=False, task_options={"data": str(data), **options})


KEYWORD_CLASSES = ["yes", "no", "_unknown_", "_silence_"]


@pytest.fixture
def keyword_run(tmp_path) -> Path:
    """A keyword-recipe run directory as training leaves it, with an untrained small CRNN."""
    return save_keyword_run(tmp_path / "run")


def save_keyword_run(directory: Path, each_clip: bool = False) -> Path:
    """A keyword run with an untrained small CRNN; ``each_clip``: its features standardised
    clip by clip first."""
    task = create_task("keywords")
    task.load_state(
        {
            "kind": "sequence",
            "shape": [101, 40],
            "variable_length": False,
            "vocab_size": None,
            "mean": [0.0] * 40,
            "std": [1.0 if each_clip else 20.0] * 40,
            "classes": KEYWORD_CLASSES,
            "clip_shape": [16_000],
        }
        | ({"each_series": True} if each_clip else {})
    )
    options = {"channels": [4], "hidden_size": 4}
    torch.manual_seed(0)
    model = create("crnn", **task.model_arguments(), **options)
    description = {
        "task": "keywords",
        "task_options": {},
        "task_state": task.state(),
        "model": "crnn",
        "model_options": options,
        "model_arguments": task.model_arguments(),
        "input_columns": [],
        "output_columns": list(task.output_columns),
    }
    save_model(directory, model, description)
    return directory


def test_a_keyword_run_predicts_audio_files_at_any_rate_and_length(keyword_run, tmp_path):
    rng = np.random.default_rng(0)
    long_stereo = np.stack([sound("low", 2.5, 44_100, rng)] * 2, axis=1)
    write_wav(tmp_path / "long.wav", long_stereo, 44_100, 24)
    write_wav(tmp_path / "short.wav", sound("high", 0.3, 8_000, rng), 8_000, 8)
    rows = _predict_in_a_fresh_process(keyword_run, tmp_path / "long.wav", tmp_path / "out.csv")
    assert rows[0] == ["id", "predicted", *(f"p_{name}" for name in KEYWORD_CLASSES)]
    trained = convrec.load(keyword_run)
    waveform = read_audio(tmp_path / "long.wav", 16_000)
    assert waveform.shape == (110_250 * 16_000 // 44_100,)
    (probabilities,) = trained.predict([fit_length(waveform, 16_000)])
    np.testing.assert_allclose([float(p) for p in rows[1][2:]], probabilities, atol=1e-5)
    short = read_audio(tmp_path / "short.wav", 16_000)  # 4,800 samples: padded with silence
    np.testing.assert_allclose(
        trained.predict([short])[0], trained.predict([fit_length(short, 16_000)])[0]
    )
    with pytest.raises(UserError, match=r"keywords\.predict: .*`input 1`: expected a finite mono"):
        trained.predict([short, np.zeros((2, 100))])


def test_a_keyword_run_is_evaluated_on_recordings_in_class_folders(keyword_run, tmp_path):
    """``convrec evaluate RUN --data FOLDER``: class folders named after the run's classes, any
    rate; the metrics are those of the model's predictions of the same files."""
    rng = np.random.default_rng(1)
    files = {"yes": ("low", 44_100), "no": ("high", 8_000), "_silence_": ("noise", 16_000)}
    for index, (name, (kind, rate)) in enumerate(sorted(files.items()) * 2):
        (tmp_path / "mine" / name).mkdir(parents=True, exist_ok=True)
        write_wav(tmp_path / "mine" / name / f"{index}.wav", sound(kind, 0.7, rate, rng), rate)
    metrics = evaluate(keyword_run, tmp_path / "mine")["mine"]
    trained = convrec.load(keyword_run)
    folder = list_audio(tmp_path / "mine")
    predicted = [
        KEYWORD_CLASSES[int(np.argmax(probabilities))]
        for probabilities in trained.predict([read_audio(file, 16_000) for file in folder.files])
    ]
    correct = np.mean(
        [guess == label for guess, label in zip(predicted, folder.labels, strict=True)]
    )
    assert metrics["accuracy"] == pytest.approx(correct) and len(folder.files) == 6
    result = CliRunner().invoke(
        app, ["evaluate", str(keyword_run), "--data", str(tmp_path / "mine")]
    )
    assert result.exit_code == 0 and "accuracy" in result.output, result.output
    (tmp_path / "mine" / "maybe").mkdir()
    write_wav(tmp_path / "mine" / "maybe" / "a.wav", sound("low", 0.5, 16_000, rng), 16_000)
    with pytest.raises(UserError, match=r"keywords\.evaluate: .*`data`: .*'maybe'"):
        evaluate(keyword_run, tmp_path / "mine")


def test_clips_standardised_one_by_one_make_a_prediction_deaf_to_loudness(tmp_path):
    """Cepstral mean and variance normalisation per clip: a louder or quieter copy of a clip
    (a gain only moves every log-Mel band, so only the first coefficient, by a constant) gets
    the same prediction; without it, another."""
    rng = np.random.default_rng(2)
    clip = (sound("low", 1.0, 16_000, rng) + sound("high", 1.0, 16_000, rng)).astype(np.float32)
    clip[:4000] = 0.01 * rng.standard_normal(4000)
    for each_clip in (True, False):
        trained = convrec.load(save_keyword_run(tmp_path / str(each_clip), each_clip))
        assert trained.task.standardise_each_series is each_clip
        loud, quiet = trained.predict([clip, clip / 8])
        if each_clip:
            np.testing.assert_allclose(loud, quiet, atol=1e-4)
        else:
            assert np.abs(loud - quiet).max() > 1e-3


@needs_espeak
def test_spec_augment_masks_the_training_clips_of_a_keyword_recipe(tmp_path, monkeypatch):
    from convrec.tasks.audio import VoicePerturbed

    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))
    task = create_task("keywords", spec_augment=True, perturb_voices=True, clips_per_class=2)
    data = task.build_data(seed=0)
    assert isinstance(data.train, SpecAugmented) and len(data.train) == 24
    assert isinstance(data.train.pairs, VoicePerturbed)  # perturbed first, then masked
    first, second = data.train[0][0], data.train[0][0]
    assert first.shape == (101, 40) and not torch.equal(first, second)
    assert not isinstance(data.validation, SpecAugmented)


@needs_espeak
def test_the_streaming_keyword_recipe_perturbs_and_masks_clips_before_chaining_them(
    tmp_path, monkeypatch
):
    from convrec.tasks.audio import AfterAnotherClip, VoicePerturbed
    from convrec.tasks.base import task_class

    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))
    options = task_class("keywords-stream").models["gru"]["task_options"]
    task = create_task("keywords-stream", clips_per_class=2, **options)
    data = task.build_data(seed=0)
    assert isinstance(data.train, AfterAnotherClip)
    assert isinstance(data.train.pairs, SpecAugmented)
    assert isinstance(data.train.pairs.pairs, VoicePerturbed)
    torch.manual_seed(0)
    features, _ = data.train[0]
    frames = task.input_shape[0]
    clean = data.train.pairs.pairs.pairs[0][0]
    assert features.shape == (2 * frames, 40) and not torch.equal(features[frames:], clean)


def test_a_keyword_run_still_reads_npz_waveforms_the_recipe_way(keyword_run, tmp_path):
    from convrec.files import write_npz
    from convrec.train.predictions import default_output, write_predictions

    trained = convrec.load(keyword_run)
    write_npz(tmp_path / "clips.npz", {"a": np.zeros(16_000, np.float32)})
    out = default_output(trained, tmp_path / "clips.npz")
    assert out.name == "clips.predictions.npz"
    assert write_predictions(trained, tmp_path / "clips.npz", out) == 1
    assert default_output(trained, tmp_path / "clip.wav").name == "clip.predictions.csv"


def test_the_framewise_front_end_refuses_frames_whose_dft_matrix_would_be_huge():
    from convrec.tasks.audio_files import build_front_end, front_end_settings

    assert build_front_end(front_end_settings("framewise-mfcc", 96_000), 96_000).n_fft == 4096
    with pytest.raises(UserError, match=r"`front_end`: expected 'framewise-mfcc' with frames"):
        build_front_end(front_end_settings("framewise-mfcc", 192_000), 192_000)


def test_a_perturbed_voice_goes_back_to_the_same_coefficients_when_nothing_changes():
    from convrec.data.audio import MFCC
    from convrec.tasks.audio import VoicePerturbed, perturb_voice

    basis = MFCC(16_000, 40, n_fft=512, hop_length=160, win_length=400, n_mels=40).dct.float()
    torch.manual_seed(3)
    features, mean, std = torch.randn(2, 101, 40), torch.randn(40), torch.rand(40) + 0.5
    pairs = Pairs(features, torch.tensor([0, 1]))
    perturbed = VoicePerturbed(pairs, basis, mean, std)
    log_mel = (features[0] * std + mean) @ basis.T
    unchanged = (perturb_voice(log_mel, 1.0, 0.0, None) @ basis - mean) / std
    torch.testing.assert_close(unchanged, features[0], atol=1e-4, rtol=0)
    drawn, label = perturbed[0]
    assert drawn.shape == (101, 40) and int(label) == 0
    assert not torch.allclose(drawn, features[0], atol=1e-2)
    assert not torch.equal(drawn, perturbed[0][0])  # new draws each time
    with pytest.raises(UserError, match=r"VoicePerturbed: .*`basis`: expected a square"):
        VoicePerturbed(pairs, basis[:, :13], mean[:13], std[:13])


def test_a_longer_vocal_tract_moves_a_formant_down_and_a_channel_cuts_the_top_bands():
    from convrec.tasks.audio import perturb_voice

    frames = torch.zeros(3, 40)
    frames[:, 20] = 30.0  # one formant at band 20, over a 0 dB floor
    lower = perturb_voice(frames, 0.8, 0.0, None)
    assert int(lower[0].argmax()) == 16  # band 16 reads band 20
    cut = perturb_voice(frames, 1.0, 0.0, 15)
    assert torch.equal(cut[:, 15:], torch.zeros(3, 25)) and torch.equal(cut[:, :15], frames[:, :15])
    tilted = perturb_voice(frames, 1.0, 12.0, None) - frames
    torch.testing.assert_close(tilted[0, [0, -1]], torch.tensor([-6.0, 6.0]))


def test_voice_perturbation_is_refused_with_clips_standardised_one_by_one():
    with pytest.raises(UserError, match="`perturb_voices`: expected false with standardise_each"):
        create_task("keywords", perturb_voices=True, standardise_each_clip=True)
