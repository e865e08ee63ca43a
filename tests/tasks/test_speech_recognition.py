"""The digit-strings recipe: its CTC loss counts each recording to its own frames and digits
(padding changes nothing), a CRNN learns to read digit strings from frames with CTC, and a run
on real synthesised speech writes its samples and posteriors, predicts audio files, serves and
refuses export."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.data.digit_strings import SpokenDigitStrings
from convrec.errors import InvalidValueError
from convrec.models import create
from convrec.nn import Padded
from convrec.tasks import create_task
from convrec.tasks.sequence_errors import error_rates
from tests.data.test_keywords import needs_espeak

FEATURES = 12


def small_crnn(pool_size: int = 2) -> torch.nn.Module:
    return create(
        "crnn",
        input_shape=(None, FEATURES),
        output_size=11,
        input_kind="sequence",
        channels=(32,),
        pool_size=pool_size,
        hidden_size=32,
        readout="frames",
        dropout=0.0,
    )


def test_the_loss_of_a_padded_batch_is_the_mean_of_each_recording_alone():
    task = create_task("digit-strings")
    torch.manual_seed(0)
    model = small_crnn().eval()
    frames = [torch.randn(37, FEATURES), torch.randn(20, FEATURES), torch.randn(29, FEATURES)]
    digits = [torch.tensor([3, 3, 9]), torch.tensor([1, 10]), torch.tensor([5, 2, 7, 7])]
    inputs, targets = task.collate(list(zip(frames, digits, strict=True)))
    batch = task.loss(model(inputs), targets)
    alone = []
    for sequence, labels in zip(frames, digits, strict=True):
        logits = model(Padded(sequence[None], [len(sequence)]))
        log_probs = logits.data.log_softmax(-1).transpose(0, 1)  # (T', 1, 11)
        by_hand = F.ctc_loss(
            log_probs, labels[None], [log_probs.shape[0]], [len(labels)], reduction="sum"
        ).item() / len(labels)
        assert task.loss(logits, Padded(labels[None], [len(labels)])).item() == pytest.approx(
            by_hand, rel=1e-5
        )
        alone.append(by_hand)
    assert batch.item() == pytest.approx(np.mean(alone), rel=1e-5)


def test_fewer_frames_than_the_digits_need_is_refused_with_the_way_out():
    task = create_task("digit-strings")
    model = small_crnn(pool_size=4).eval()
    inputs, targets = task.collate([(torch.randn(16, FEATURES), torch.arange(1, 8))])
    with pytest.raises(InvalidValueError, match=r"\[4\] frames for \[7\] needed.*pool_size"):
        task.loss(model(inputs), targets)
    # three equal digits need two blanks between them: 5 frames, not 3
    inputs, targets = task.collate([(torch.randn(16, FEATURES), torch.tensor([3, 3, 3]))])
    with pytest.raises(InvalidValueError, match=r"\[4\] frames for \[5\] needed"):
        task.loss(model(inputs), targets)
    inputs, targets = task.collate([(torch.randn(16, FEATURES), torch.tensor([3, 4, 3, 4]))])
    assert torch.isfinite(task.loss(model(inputs), targets))


def test_a_model_output_per_recording_is_refused_by_the_loss():
    task = create_task("digit-strings")
    with pytest.raises(InvalidValueError, match=r"an output per frame.*\(2, 11\).*readout"):
        task.loss(torch.randn(2, 11), Padded(torch.tensor([[1, 2], [3, 0]]), [2, 1]))


def test_a_model_with_one_output_per_recording_is_refused():
    task = create_task("digit-strings")
    assert task.model_defaults("crnn", ["readout", "pool_size"]) == {"readout": "frames"}
    assert task.model_defaults("gru", ["return_sequences"]) == {"return_sequences": True}
    with pytest.raises(InvalidValueError, match=r"CTC needs an output per frame.*'fcn'"):
        task.model_defaults("fcn", ["channels"])


def synthetic_strings(generator: torch.Generator, templates: torch.Tensor, count: int) -> list:
    """Each digit its pattern of ``templates`` ``(10, frames, FEATURES)`` with noise, digits 1-3
    frames of silence apart: strings of 2-5 digits, repeats included."""
    items = []
    for _ in range(count):
        digits = torch.randint(
            10, (int(torch.randint(2, 6, (), generator=generator)),), generator=generator
        )
        parts = []
        for digit in digits.tolist():
            gap = int(torch.randint(1, 4, (), generator=generator))
            parts += [torch.zeros(gap, FEATURES), templates[digit]]
        frames = torch.cat([*parts, torch.zeros(2, FEATURES)])
        frames = frames + 0.3 * torch.randn(frames.shape, generator=generator)
        items.append((frames, digits + 1))
    return items


def test_a_crnn_learns_to_read_digit_strings_with_ctc():
    task = create_task("digit-strings")
    generator = torch.Generator().manual_seed(0)
    templates = torch.randn(10, 6, FEATURES, generator=generator)
    train = synthetic_strings(generator, templates, 512)
    test = synthetic_strings(generator, templates, 64)
    torch.manual_seed(0)
    model = small_crnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(train), 32):
            inputs, targets = task.collate([train[index] for index in order[start : start + 32]])
            loss = task.loss(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    log_probs = task.log_probs(model, test)
    truth = [[digits.tolist()] for _, digits in test]
    beam = error_rates(task.decode(log_probs), truth)
    greedy = error_rates(task.decode(log_probs, beam_size=1), truth)
    assert beam["per"] < 0.05 and greedy["per"] < 0.05, (beam, greedy)
    metrics = task.evaluate(model, test)
    assert metrics["der"] == pytest.approx(beam["per"])
    assert metrics["string_accuracy_greedy"] == pytest.approx(1 - greedy["wer"])


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory):
    """A small CRNN trained for two epochs on 12 synthesised recordings (too few to learn: the
    learning is tested above; this run is for what a run writes and answers)."""
    folder = tmp_path_factory.mktemp("digit-strings")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVREC_DATA", str(folder / "data"))
        run = convrec.train(
            "digit-strings",
            "crnn",
            epochs=2,
            batch_size=8,
            out=str(folder / "runs"),
            progress=False,
            task_options={"size": 12, "beam_size": 4},
            model_options={"channels": (16,), "hidden_size": 16},
        )
        yield run, SpokenDigitStrings("test", size=12)


@needs_espeak
def test_a_run_scores_its_test_voices_and_writes_samples_and_posteriors(digit_run):
    run, test = digit_run
    metrics = run.metrics["test"]["test"]
    assert set(metrics) == {"der", "string_accuracy", "der_greedy", "string_accuracy_greedy"}
    assert all(0 <= value <= 1 or name.startswith("der") for name, value in metrics.items())
    history = (run.directory / "history.csv").read_text().splitlines()
    assert history[0].endswith("validation_der") and len(history) == 3
    samples = (run.directory / "samples.txt").read_text().splitlines()
    assert len(samples) == len(test)
    for line, index in zip(samples, range(len(test)), strict=True):
        mark, said, *heard = line.split()
        assert mark in ("ok", "ERR") and said == "".join(map(str, test[index][1].tolist()))
        assert (mark == "ok") == (heard == [said])
    assert (run.directory / "posteriors.png").stat().st_size > 5000


@needs_espeak
def test_convrec_predict_reads_audio_files_and_answers_their_digits(digit_run, tmp_path):
    run, test = digit_run
    waveforms = [test[0][0].numpy(), test[5][0].numpy()]
    for name, waveform in zip(("first", "second"), waveforms, strict=True):
        soundfile.write(tmp_path / f"{name}.wav", waveform, 16_000, subtype="FLOAT")
    result = CliRunner().invoke(app, ["predict", str(run.directory), str(tmp_path), "--out", "-"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    model = convrec.load(run.directory)
    expected = model.task.prediction_texts(model.predict(waveforms))
    assert [(row["id"], row["digits"]) for row in rows] == list(
        zip(("first.wav", "second.wav"), expected, strict=True)
    )
    assert all(set(text) <= set("0123456789") for text in expected)


@needs_espeak
def test_predict_refuses_a_waveform_shorter_than_one_window(digit_run):
    model = convrec.load(digit_run[0].directory)
    short = r"`input 1`: expected a finite mono waveform.*got shape \(100,\)"
    with pytest.raises(InvalidValueError, match=short):
        model.predict([np.zeros(8000, np.float32), np.zeros(100, np.float32)])


@needs_espeak
def test_export_is_refused_with_the_way_to_predict(digit_run):
    result = CliRunner().invoke(app, ["export", str(digit_run[0].directory)])
    assert result.exit_code != 0
    assert "beam search" in str(result.exception) + result.output


@needs_espeak
def test_a_server_answers_waveforms_with_their_digits(digit_run):
    import asyncio

    import httpx

    from convrec.serve import create_app

    run, test = digit_run
    waveforms = [test[1][0].tolist(), test[2][0].tolist()]

    async def ask() -> dict:
        server = create_app([run.directory])
        async with server.router.lifespan_context(server):  # the batchers run
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://convrec") as client:
                response = await client.post("/predict", json={"inputs": waveforms})
        return response.json()

    answer = asyncio.run(ask())
    model = convrec.load(run.directory)
    expected = model.predict([np.asarray(waveform, np.float32) for waveform in waveforms])
    assert answer["predictions"] == [digits.tolist() for digits in expected]
    assert answer["texts"] == model.task.prediction_texts(expected)
