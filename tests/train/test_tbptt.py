"""Truncated backpropagation through time: windows as long as the sequences train bit for bit as
full BPTT; shorter ones take the gradients of a hand-written truncated loop; the state runs on
across windows and starts from zeros at every batch; padded rows that have ended drop out of the
windows and keep their state; what cannot be truncated is refused by name."""

import itertools

import pytest
import torch
import torch.nn.functional as F
import yaml
from lightning.fabric import Fabric
from torch.utils.data import default_collate
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.errors import InvalidValueError
from convrec.models import CharLM, RecurrentNet
from convrec.nn import Padded
from convrec.tasks import create_task
from convrec.tasks.language import LanguageModelling
from convrec.train.batches import evaluation_loader, train_loader
from convrec.train.checkpoint import IncompatibleCheckpointError
from convrec.train.config import make_config
from convrec.train.loop import Callback, FitState, Loop, fit
from convrec.train.tbptt import check_state, put_rows, select_rows, steps_per_epoch, time_windows

SEED, VOCABULARY, BATCH, STEPS, LR, CLIP = 3, 7, 4, 12, 1e-2, 0.5
lm_loss = create_task("char-lm").loss  # cross-entropy of every next symbol


def token_rows(count: int, steps: int = STEPS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` rows of ``steps`` ids cut from one random stream: ``(ids, next ids)``."""
    stream = torch.randint(
        1, VOCABULARY, (count * steps + 1,), generator=torch.Generator().manual_seed(0)
    )
    return [
        (stream[i * steps : (i + 1) * steps], stream[i * steps + 1 : (i + 1) * steps + 1])
        for i in range(count)
    ]


def padded_rows(lengths: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    streams = [
        torch.randint(1, VOCABULARY, (length + 1,), generator=generator) for length in lengths
    ]
    return [(stream[:-1], stream[1:]) for stream in streams]


def collate_tokens(items):
    """Variable-length ids and their next ids, both ``Padded``."""
    inputs, targets = zip(*items, strict=True)
    return Padded.from_sequences(inputs), Padded.from_sequences(targets)


def masked_lm_loss(prediction: Padded, target: Padded) -> torch.Tensor:
    """Cross-entropy over the valid steps of every sequence."""
    valid = target.mask()  # (B, T)
    return F.cross_entropy(prediction.data[valid], target.data[valid])


class RecordingCharLM(CharLM):
    """A CharLM that keeps what each training call of ``advance`` read and returned."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = []

    def advance(self, tokens, state=None):
        outputs, reached = super().advance(tokens, state)
        if self.training:
            self.calls.append((tokens, state, outputs.data.detach(), reached))
        return outputs, reached


def char_lm(kind=CharLM) -> CharLM:
    torch.manual_seed(SEED)
    return kind((None,), VOCABULARY, embedding_dim=4, hidden_size=8, num_layers=2)


class GradientRecorder(Callback):
    """Every parameter's gradient (after clipping) at every optimizer step."""

    def __init__(self) -> None:
        self.steps = []

    def on_batch_end(self, loop, loss):
        self.steps.append([parameter.grad.clone() for parameter in loop.model.parameters()])


def fit_run(
    data,
    tbptt_steps,
    *,
    model=None,
    lr=LR,
    loss=lm_loss,
    collate=default_collate,
    epochs=2,
    callbacks=(),
):
    """``fit`` on ``data`` in batches of ``BATCH`` (AdamW; SGD when ``lr`` is 0, which keeps
    the weights)."""
    fabric = Fabric(accelerator="cpu", devices=1)
    model = model or char_lm()
    optimizer = (
        torch.optim.SGD(model.parameters(), lr=0.0)
        if lr == 0
        else torch.optim.AdamW(model.parameters(), lr=lr)
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.9**step)
    model, optimizer = fabric.setup(model, optimizer)
    loop = Loop(fabric, model, optimizer, scheduler, FitState())
    loader = train_loader(data, BATCH, SEED, collate)
    validation = evaluation_loader(data, BATCH, collate)
    fit(loop, loader, validation, loss, epochs, CLIP, callbacks, tbptt_steps)
    return loop


def first_batch(data, collate=default_collate):
    """The first training batch of ``fit_run``: the order of epoch 0 of ``train_loader``."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(SEED))
    return collate([data[index] for index in order[:BATCH].tolist()])


def assert_same_weights(mine: torch.nn.Module, reference: torch.nn.Module) -> None:
    for (name, value), (_, expected) in zip(
        mine.state_dict().items(), reference.state_dict().items(), strict=True
    ):
        assert torch.equal(value, expected), name


@pytest.mark.parametrize("tbptt_steps", [STEPS, STEPS + 5])
@pytest.mark.parametrize("padded", [False, True])
def test_windows_as_long_as_the_sequences_train_bit_for_bit_as_full_bptt(tbptt_steps, padded):
    data = padded_rows([12, 5, 9, 12, 1, 7, 12, 3]) if padded else token_rows(8)
    options = {"collate": collate_tokens, "loss": masked_lm_loss} if padded else {}
    full = fit_run(data, None, **options)
    truncated = fit_run(data, tbptt_steps, **options)
    assert truncated.state.step == full.state.step == 4
    assert truncated.state.history == full.state.history
    assert_same_weights(truncated.model, full.model)
    assert not any(
        torch.equal(a, b)
        for a, b in zip(truncated.model.parameters(), char_lm().parameters(), strict=True)
    )  # it trained


def test_each_window_has_the_gradients_of_a_hand_written_truncated_loop():
    data = token_rows(BATCH)  # one batch: windows of 5, 5 and 2 steps
    recorder = GradientRecorder()
    loop = fit_run(data, 5, epochs=1, callbacks=[recorder])
    model = char_lm()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.9**step)
    inputs, targets = first_batch(data)
    expected, state = [], None
    for start in range(0, STEPS, 5):
        outputs, state = model.advance(inputs[:, start : start + 5], state)
        loss = lm_loss(outputs, targets[:, start : start + 5])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        expected.append([parameter.grad.clone() for parameter in model.parameters()])
        optimizer.step()
        scheduler.step()
        state = tuple(part.detach() for part in state)
    assert loop.state.step == len(recorder.steps) == 3
    for window, (mine, reference) in enumerate(zip(recorder.steps, expected, strict=True)):
        for got, wanted in zip(mine, reference, strict=True):
            assert torch.equal(got, wanted), f"window {window}"
    assert_same_weights(loop.model, model)
    assert len(loop.state.history) == 1  # train_loss: the mean over the three windows


def test_the_state_runs_on_across_windows_and_starts_from_zeros_at_each_batch():
    model = char_lm(RecordingCharLM)
    fit_run(token_rows(2 * BATCH), 5, model=model, lr=0, epochs=1)  # the weights stay
    assert [state is None for _, state, _, _ in model.calls] == [True, False, False] * 2
    for batch in (model.calls[:3], model.calls[3:]):
        for (_, _, _, reached), (_, carried, _, _) in itertools.pairwise(batch):
            assert all(not part.requires_grad for part in carried)  # detached
            assert all(torch.equal(a, b) for a, b in zip(carried, reached, strict=True))
        whole = torch.cat([tokens for tokens, _, _, _ in batch], dim=1)  # (B, 12)
        with torch.no_grad():
            expected = model.advance(whole)[0].data  # (B, 12, V) in one pass
        pieces = torch.cat([outputs for _, _, outputs, _ in batch], dim=1)
        torch.testing.assert_close(pieces, expected, rtol=1e-6, atol=1e-6)


LENGTHS = [12, 5, 3, 1]  # windows of 4: rows 0-3, then rows 0-1, then row 0


def test_padded_rows_that_have_ended_drop_out_of_the_windows():
    inputs, targets = collate_tokens(padded_rows(LENGTHS))
    windows = list(time_windows(inputs, targets, 4))
    assert [window.start for window in windows] == [0, 4, 8]
    assert [None if w.rows is None else w.rows.tolist() for w in windows] == [None, [0, 1], [0]]
    assert [window.inputs.lengths.tolist() for window in windows] == [[4, 4, 3, 1], [4, 1], [4]]
    assert torch.equal(windows[1].inputs.data, inputs.data[:2, 4:8])
    assert torch.equal(windows[2].targets.data, targets.data[:1, 8:12])
    longer = Padded(torch.nn.functional.pad(inputs.data, (0, 5)), inputs.lengths)  # T = 17
    longer_targets = Padded(torch.nn.functional.pad(targets.data, (0, 5)), targets.lengths)
    starts = [window.start for window in time_windows(longer, longer_targets, 4)]
    assert starts == [0, 4, 8]  # 12 and 16 hold no step of any row: skipped


def test_padded_windows_give_each_row_its_whole_sequence_outputs():
    model = char_lm(RecordingCharLM)
    data = padded_rows(LENGTHS)
    fit_run(data, 4, model=model, lr=0, collate=collate_tokens, loss=masked_lm_loss, epochs=1)
    inputs, _ = first_batch(data, collate_tokens)
    assert [len(tokens.lengths) for tokens, _, _, _ in model.calls] == [4, 2, 1]
    model.eval()  # records nothing more
    for row, length in enumerate(inputs.lengths.tolist()):
        with torch.no_grad():
            alone = model.advance(inputs.data[row : row + 1, :length])[0].data[0]  # (L, V)
        pieces, position = [], 0  # the row's outputs, window by window
        for tokens, _, outputs, _ in model.calls:
            rows = [r for r in range(len(inputs.lengths)) if inputs.lengths[r] > position]
            if row in rows:
                window_length = int(tokens.lengths[rows.index(row)])
                pieces.append(outputs[rows.index(row), :window_length])
            position += tokens.max_length
        torch.testing.assert_close(torch.cat(pieces), alone, rtol=1e-6, atol=1e-6)


def test_padded_windows_have_the_gradients_of_a_hand_written_loop_over_the_running_rows():
    data = padded_rows(LENGTHS)
    recorder = GradientRecorder()
    loop = fit_run(
        data, 4, collate=collate_tokens, loss=masked_lm_loss, epochs=1, callbacks=[recorder]
    )
    model = char_lm()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.9**step)
    inputs, targets = first_batch(data, collate_tokens)
    order = inputs.lengths.tolist()
    running = {
        start: [r for r, length in enumerate(order) if length > start] for start in (0, 4, 8)
    }
    expected, state = [], None
    for start, rows in running.items():
        index = torch.tensor(rows)
        lengths = (inputs.lengths[index] - start).clamp(0, 4)
        window_inputs = Padded(inputs.data[index, start : start + 4], lengths)
        window_targets = Padded(targets.data[index, start : start + 4], lengths)
        carried = None if state is None else tuple(part[:, index] for part in state)
        outputs, reached = model.advance(window_inputs, carried)
        loss = masked_lm_loss(outputs, window_targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        expected.append([parameter.grad.clone() for parameter in model.parameters()])
        optimizer.step()
        scheduler.step()
        if state is None:
            state = tuple(part.detach() for part in reached)
        else:
            state = tuple(part.detach().clone() for part in state)
            for whole, new in zip(state, reached, strict=True):
                whole[:, index] = new.detach()
    assert len(recorder.steps) == len(expected) == 3
    for window, (mine, reference) in enumerate(zip(recorder.steps, expected, strict=True)):
        for got, wanted in zip(mine, reference, strict=True):
            torch.testing.assert_close(got, wanted, rtol=0, atol=0, msg=f"window {window}")
    assert_same_weights(loop.model, model)


def test_rows_that_did_not_run_keep_their_state():
    state = (torch.arange(12.0).view(1, 3, 4), -torch.arange(12.0).view(1, 3, 4))
    rows = torch.tensor([0, 2])
    part = tuple(tensor * 10 for tensor in select_rows(state, rows))
    merged = put_rows(state, part, rows)
    for before, after, new in zip(state, merged, part, strict=True):
        assert torch.equal(after[:, 1], before[:, 1])  # row 1 did not run
        assert torch.equal(after[:, [0, 2]], new)
    assert put_rows(None, state[0], None) is state[0]
    assert select_rows(state, None) is state


def test_steps_per_epoch_counts_the_windows_of_each_batch():
    data = padded_rows([12, 5, 9, 12, 1, 7, 3, 3, 8])  # batches of 4, 4 and 1
    loader = train_loader(data, BATCH, SEED, collate_tokens)
    expected = sum(-(-max(batch.lengths.tolist()) // 5) for batch, _ in loader)  # ceil(longest / 5)
    assert steps_per_epoch(loader, 5) == expected
    assert steps_per_epoch(loader, None) == len(loader) == 3


@pytest.mark.parametrize("value", [0, -4, True, 2.5, "8"])
def test_a_tbptt_steps_other_than_a_positive_integer_is_refused_by_name(value):
    with pytest.raises(InvalidValueError, match=r"`tbptt_steps`: Input should be"):
        make_config(task="char-lm", model="charlm", tbptt_steps=value)


def test_tbptt_over_several_processes_is_refused():
    with pytest.raises(InvalidValueError, match=r"`tbptt_steps`: truncated BPTT runs in one"):
        make_config(task="char-lm", model="charlm", tbptt_steps=8, devices=2)


def test_fit_refuses_a_model_without_advance_and_targets_not_per_step():
    model = RecurrentNet((None, 3), 2, cell="lstm", hidden_size=4)
    with pytest.raises(InvalidValueError, match=r"`tbptt_steps`.*model 'RecurrentNet' has none"):
        fit_run(token_rows(4), 4, model=model)
    with pytest.raises(InvalidValueError, match=r"`tbptt_steps`: expected a positive integer"):
        fit_run(token_rows(4), 0)
    one_label_each = [(ids, ids[0]) for ids, _ in token_rows(4)]  # many-to-one
    with pytest.raises(InvalidValueError, match=r"targets need the inputs' 12 steps; got inputs"):
        fit_run(one_label_each, 4)
    inputs, targets = collate_tokens(padded_rows([4, 3]))
    shorter = Padded(targets.data, [4, 2])
    with pytest.raises(InvalidValueError, match=r"target sequence as long as its input"):
        list(time_windows(inputs, shorter, 2))


def test_a_state_without_the_batch_on_axis_1_is_refused_naming_the_model():
    with pytest.raises(InvalidValueError, match=r"MyNet.advance must return a state of tensors"):
        check_state(torch.zeros(4, 8), 3, "MyNet")
    assert check_state((torch.zeros(1, 3, 8),) * 2, 3, "MyNet")[0].shape == (1, 3, 8)


def test_train_refuses_a_many_to_one_task_and_a_model_without_advance_before_any_run(tmp_path):
    with pytest.raises(InvalidValueError, match=r"`tbptt_steps`.*task 'fashion-mnist' has one"):
        convrec.train("fashion-mnist", tbptt_steps=8, progress=False, out=str(tmp_path))
    tiny = {"train_size": 4, "validation_size": 2, "test_size": 1, "segments": 2}
    with pytest.raises(InvalidValueError, match=r"`tbptt_steps`.*model 'gru' has none"):
        convrec.train(
            "maxwell",
            model="gru",
            tbptt_steps=8,
            task_options=tiny | {"steps_per_segment": 5},
            progress=False,
            out=str(tmp_path),
        )
    assert not any(tmp_path.iterdir())


def fortune_files(folder):
    folder.mkdir()
    for category in ("food", "law"):
        entries = [f"A {category} saying, number {i}, for the language model." for i in range(8)]
        (folder / category).write_text("\n%\n".join(entries) + "\n%\n")
    return folder


def test_convrec_train_char_lm_with_tbptt_steps_runs_records_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(LanguageModelling, "plot", lambda *_: [])  # sampling text takes seconds
    runs = tmp_path / "runs"
    arguments = [
        "train",
        "char-lm",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--tbptt-steps",
        "8",
        "--set",
        f"task_options={{root: {fortune_files(tmp_path / 'fortunes')}, length: 8, "
        "train_length: 24}",
        "--set",
        "model_options={hidden_size: 8, embedding_dim: 4}",
        "--out",
        str(runs),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    (directory,) = runs.iterdir()
    assert yaml.safe_load((directory / "config.yaml").read_text())["tbptt_steps"] == 8
    history = (directory / "history.csv").read_text().splitlines()
    assert len(history) == 2  # a header and one epoch
    resumed = convrec.train("char-lm", resume=directory, epochs=2, progress=False)
    assert resumed.metrics["epochs"] == 2
    with pytest.raises(IncompatibleCheckpointError, match=r"`tbptt_steps` is 8 in the checkpoint"):
        convrec.train("char-lm", resume=directory, epochs=3, tbptt_steps=4, progress=False)
