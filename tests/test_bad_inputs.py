"""Bad input is refused clearly, at every public entry point (issue 7, VAL-1..VAL-6, NAN-1).

One table: each row makes one bad call and names the error it must raise and the fragments its
message must hold: who complained, the argument, what was expected and what came. Command-line
rows run ``convrec.cli.main`` as a user would and must end with exit status 2 and one
``error:`` line, without a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import struct
import sys
import tempfile
from collections.abc import Callable

import numpy as np
import pytest
import torch

from convrec.cli import main
from convrec.data import NonFiniteInputError, check_finite_batch, load_dataset
from convrec.data.audio import MFCC
from convrec.data.readers import (
    FormatError,
    read_fasta,
    read_idx,
    read_sequences_csv,
    read_sequences_npz,
    read_ts,
    read_wav,
)
from convrec.models import create
from convrec.nn import GRU, LSTM, RNN, Conv1d, Conv2d, Conv3d, Padded, Pool1d, Pool2d
from convrec.tasks import create_task
from convrec.train import TrainedModel, make_config, train

IDX = struct.pack(">HBB2I", 0, 0x0B, 2, 3, 2) + np.arange(6, dtype=">i2").tobytes()
SMALL_MAXWELL = [
    "--set",
    "task_options.train_size=8",
    "--set",
    "task_options.validation_size=4",
    "--set",
    "task_options.test_size=4",
]


class CommandError(Exception):
    """The command line exited with a non-zero status; the message is its output."""


def cli(*arguments: str) -> None:
    """Run ``convrec ARGUMENTS`` through ``main``; a failure raises :class:`CommandError` with
    ``exit status N: OUTPUT`` (whitespace joined, as a terminal would wrap it)."""
    output = io.StringIO()
    with tempfile.TemporaryDirectory() as out:
        extra = ["--out", out, "--no-progress"] if arguments[0] == "train" else []
        saved, sys.argv = sys.argv, ["convrec", *arguments, *extra]
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                main()
        except SystemExit as error:
            if error.code:
                text = " ".join(output.getvalue().split())
                raise CommandError(f"exit status {error.code}: {text}") from None
        finally:
            sys.argv = saved


HOLD = np.c_[np.ones(4), np.zeros(4), np.ones(4)]  # a valid history: stretch 1 held for 4 s


@functools.cache
def maxwell_model() -> TrainedModel:
    """An untrained GRU on the maxwell task, as ``convrec.train.load`` would give it."""
    task = create_task("maxwell")
    task.load_state({"mean": [0.0] * 6, "std": [1.0] * 6})
    model = create("gru", **task.model_arguments(), hidden_size=4)
    return TrainedModel(model.eval(), task, {"task": "maxwell"})


def with_nan(shape: tuple[int, ...], index: tuple[int, ...]) -> torch.Tensor:
    data = torch.zeros(shape)
    data[index] = math.nan
    return data


def noise(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


def row(
    name: str,
    call: Callable[[], object],
    error: type[Exception],
    *fragments: str,
    marks: object = (),
) -> object:
    """One bad call: ``call()`` must raise ``error`` whose message matches every fragment."""
    return pytest.param(call, error, fragments, id=name, marks=marks)


CASES = [
    # Layers: rank, channels, layout, dtype, sizes (VAL-3, VAL-4, VAL-6).
    row("conv1d-wrong-rank", lambda: Conv1d(3, 8, 3)(noise(2, 10)), ValueError,
        r"^Conv1d: invalid value for argument `input`", r"expected a 3-D tensor \(B, T, C\)",
        r"got a tensor of shape \(2, 10\)"),
    row("conv2d-wrong-channels", lambda: Conv2d(3, 8, 3)(noise(2, 4, 16, 16)), ValueError,
        r"^Conv2d: .*`input`", r"expected 3 channels on the channel axis of \(B, C, H, W\)",
        r"got 4 \(shape \(2, 4, 16, 16\)\)\.$"),
    row("conv2d-nhwc-given", lambda: Conv2d(3, 8, 3)(noise(2, 16, 16, 3)), ValueError,
        r"`input`", r"expected 3 channels", r"got 16 \(shape \(2, 16, 16, 3\)\)",
        r"channels-last\? Move the channels with x\.movedim\(-1, 1\)"),
    row("conv1d-channels-first-given", lambda: Conv1d(3, 8, 3)(noise(2, 3, 16)), ValueError,
        r"`input`", r"expected 3 channels on the channel axis of \(B, T, C\)", r"got 16",
        r"x\.movedim\(1, -1\)"),
    row("conv3d-wrong-rank", lambda: Conv3d(1, 1, 3)(noise(1, 1, 4, 4)), ValueError,
        r"^Conv3d: .*`input`", r"expected a 5-D tensor \(B, C, D, H, W\)",
        r"got a tensor of shape \(1, 1, 4, 4\)"),
    row("conv1d-integer-input", lambda: Conv1d(3, 8, 3)(torch.ones(2, 10, 3, dtype=torch.long)),
        TypeError, r"`input`", r"expected a floating-point tensor", r"dtype torch\.int64",
        r"\.float\(\)"),
    row("conv2d-float64-into-float32", lambda: Conv2d(3, 4, 3)(noise(1, 3, 5, 5).double()),
        TypeError, r"^Conv2d: .*`input`",
        r"expected dtype torch\.float32, the dtype of the layer's", r"dtype torch\.float64",
        r"\.to\(torch\.float32\)"),
    row("gru-float64-into-float32", lambda: GRU(3, 4)(noise(2, 5, 3).double()), TypeError,
        r"^GRU: .*`input`", r"expected dtype torch\.float32", r"got a tensor .* torch\.float64"),
    row("conv2d-smaller-than-kernel", lambda: Conv2d(1, 1, 5)(noise(1, 1, 3, 3)), ValueError,
        r"`input`", r"expected a spatial size of at least 5 on spatial axis 0", r"got 3",
        r"padding='same'"),
    row("conv1d-sequence-shorter-than-kernel",
        lambda: Conv1d(2, 2, 5)(Padded(noise(2, 8, 2), [8, 3])), ValueError, r"`input`",
        r"expected every sequence long enough", r"got batch item 1 of length 3, which gives -1"),
    row("conv1d-kernel-size-zero", lambda: Conv1d(3, 4, 0), ValueError,
        r"^Conv1d: .*`kernel_size`", r"expected a positive integer", r"got 0\.$"),
    row("conv2d-groups-not-a-divisor", lambda: Conv2d(3, 4, 3, groups=2), ValueError,
        r"`groups`", r"expected a divisor of both in_channels and out_channels",
        r"got groups=2 with in_channels=3"),
    row("pool2d-smaller-than-window", lambda: Pool2d("max", 4, ceil_mode=False)(noise(1, 1, 2, 2)),
        ValueError, r"^Pool2d: .*`input`", r"expected a spatial size that leaves at least one",
        r"got 2 \(input of spatial shape \(2, 2\)\)"),
    row("pool1d-unknown-kind", lambda: Pool1d("median"), ValueError,
        r"^Pool1d: .*`kind`", r"expected one of 'max'", r"got 'median'"),
    row("pool1d-wrong-rank", lambda: Pool1d("max", 2)(noise(2, 3)), ValueError,
        r"`input`", r"expected a 3-D tensor \(B, T, C\)", r"got a tensor of shape \(2, 3\)"),
    # Recurrent layers and padded batches (VAL-1, VAL-4).
    row("lstm-wrong-feature-count", lambda: LSTM(3, 4)(noise(2, 5, 4)), ValueError,
        r"^LSTM: .*`input`", r"expected 3 channels", r"got 4 \(shape \(2, 5, 4\)\)"),
    row("gru-unbatched-sequence", lambda: GRU(3, 4)(noise(5, 3)), ValueError,
        r"`input`", r"expected a 3-D tensor \(B, T, C\)", r"shape \(5, 3\)"),
    row("gru-ragged-list-without-lengths", lambda: GRU(3, 4)([noise(5, 3), noise(3, 3)]), TypeError,
        r"`input`", r"expected a tensor \(B, T, C\) or a convrec\.nn\.Padded",
        r"got a list of 2 items \(a tensor of shape \(5, 3\)", r"Padded\.from_sequences"),
    row("gru-empty-batch", lambda: GRU(3, 4)(noise(0, 5, 3)), ValueError,
        r"`input`", r"expected a non-empty tensor", r"shape \(0, 5, 3\)"),
    row("lstm-empty-sequences", lambda: LSTM(3, 4)(noise(2, 0, 3)), ValueError,
        r"`input`", r"no empty sequence", r"shape \(2, 0, 3\)"),
    row("rnn-state-of-wrong-batch", lambda: RNN(3, 4)(noise(2, 5, 3), noise(1, 3, 4)), ValueError,
        r"^RNN: .*`state`", r"expected a tensor of shape \(1, 2, 4\)", r"shape \(1, 3, 4\)"),
    row("gru-dropout-above-one", lambda: GRU(3, 4, dropout=1.5), ValueError,
        r"`dropout`", r"expected a number in \[0, 1\)", r"got 1\.5"),
    row("lstm-zero-hidden-size", lambda: LSTM(3, 0), ValueError,
        r"`hidden_size`", r"expected a positive integer", r"got 0"),
    row("gru-padded-on-wrong-axis", lambda: GRU(5, 4)(Padded(noise(2, 3, 5), [5, 2], time_dim=2)),
        ValueError, r"`input`", r"time_dim\) is one of \(1,\)", r"got time_dim=2"),
    row("padded-lengths-longer-than-t", lambda: Padded(noise(2, 5, 3), [6, 2]), ValueError,
        r"^Padded: .*`lengths`", r"expected lengths between 1 and the padded length 5",
        r"got lengths from 2 to 6"),
    row("padded-length-zero", lambda: Padded(noise(2, 5, 3), [0, 2]), ValueError,
        r"`lengths`", r"between 1 and", r"from 0 to 2"),
    row("padded-lengths-of-wrong-batch", lambda: Padded(noise(2, 5, 3), [5, 2, 1]), ValueError,
        r"`lengths`", r"expected shape \(2,\), one length per batch item", r"shape \(3,\)"),
    row("padded-float-lengths", lambda: Padded(noise(2, 5, 3), torch.tensor([5.0, 2.0])), TypeError,
        r"`lengths`", r"expected an integer tensor", r"dtype torch\.float32"),
    row("padded-nan-lengths", lambda: Padded(noise(2, 5, 3), torch.tensor([5.0, math.nan])),
        TypeError, r"`lengths`", r"expected an integer tensor", r"It contains NaN"),
    row("padded-data-not-a-tensor", lambda: Padded([1, 2], [1]), TypeError,
        r"`data`", r"expected a tensor", r"got \[1, 2\]"),
    row("padded-batch-axis-as-time", lambda: Padded(noise(2, 5, 3), [1, 2], time_dim=0), ValueError,
        r"`time_dim`", r"expected an axis of data other than the batch axis", r"got 0"),
    row("padded-from-no-sequences", lambda: Padded.from_sequences([]), ValueError,
        r"`sequences`", r"expected at least one tensor", r"got an empty list"),
    # NaN and Inf where they are checked (NAN-1).
    row("mfcc-nan-in-waveform", lambda: MFCC()(with_nan((2, 50), (1, 49))), ValueError,
        r"^MFCC: .*`input`", r"expected finite values within each sequence's length",
        r"got NaN or Inf in batch item 1"),
    row("training-batch-with-inf", lambda: check_finite_batch(noise(4, 6, 3) / 0, batch=3),
        NonFiniteInputError, r"^inputs: batch 3, sample 0", r"expected finite values",
        r"got (inf|-inf|nan) at step 0, feature 0"),
    # Models through the registry.
    row("model-unknown-name", lambda: create("gruu", input_shape=(None, 3), output_size=1),
        ValueError, r"unknown model 'gruu'", r"expected one of .*\bgru\b", r"Did you mean 'gru'"),
    row("model-unknown-option",
        lambda: create("gru", input_shape=(None, 3), output_size=1, hiddn_size=3), ValueError,
        r"^gru: .*`model_options`", r"expected options among .*hidden_size", r"got 'hiddn_size'",
        r"Did you mean 'hidden_size'"),
    row("model-wrong-input-kind",
        lambda: create("lenet5", input_shape=(None, 3), output_size=1, input_kind="sequence"),
        ValueError, r"`name`", r"expected a model that takes sequence input \(.*gru",
        r"got 'lenet5', which takes image"),
    row("model-output-size-zero", lambda: create("gru", input_shape=(None, 3), output_size=0),
        ValueError, r"`output_size`", r"expected a positive integer", r"got 0"),
    row("model-image-shape-without-channels",
        lambda: create("lenet5", input_shape=(28, 28), output_size=10), ValueError,
        r"^LeNet5: .*`input_shape`", r"expected an image shape \(C, H, W\)", r"got \(28, 28\)"),
    row("model-input-of-wrong-length",
        lambda: create("mlp", input_shape=(10, 3), output_size=2)(noise(2, 9, 3)), ValueError,
        r"^MLP: .*`input`", r"expected a floating-point tensor of shape \(B, 10, 3\)",
        r"got a tensor of shape \(2, 9, 3\)"),
    # Datasets and file readers (PBT-2 fuzzes the readers further).
    row("dataset-unknown-name", lambda: load_dataset("mnistt"), ValueError,
        r"unknown dataset 'mnistt'", r"expected one of .*mnist1d", r"Did you mean"),
    row("dataset-unknown-option", lambda: load_dataset("mnist1d", validation_fraktion=0.1),
        ValueError, r"^mnist1d: .*`options`", r"expected options among validation_fraction",
        r"got 'validation_fraktion'"),
    row("idx-garbage", lambda: read_idx(b"garbage!"), FormatError,
        r"^<bytes>, byte 0", r"expected two zero bytes opening the IDX magic number", r"got b'ga'"),
    row("npz-given-an-idx-file", lambda: read_sequences_npz(IDX), FormatError,
        r"byte 0", r"expected a \.npz archive", r"got b'\\x00"),
    row("wav-given-an-idx-file", lambda: read_wav(IDX), FormatError,
        r"byte 0", r"expected a RIFF/WAVE header", r"got b'\\x00"),
    row("csv-missing-column",
        lambda: read_sequences_csv(b"sequence_id,x\na,1\n", columns=["x", "y"]), FormatError,
        r"line 1", r"expected columns sequence_id, x, y", r"got a header that lacks y"),
    row("csv-text-in-number-column",
        lambda: read_sequences_csv(b"sequence_id,x\na,abc\n", columns=["x"]), FormatError,
        r"line 2", r"expected numbers in the columns x", r"'abc'"),
    row("fasta-unknown-letter", lambda: read_fasta(b">one\nACGZ\n"), FormatError,
        r"line 2, column 4", r"expected one of ACGT", r"got 'Z'"),
    row("ts-without-label-header", lambda: read_ts(b"@data\n1,2:3\n"), FormatError,
        r"line 1", r"expected @classLabel or @targetLabel before @data", r"got neither"),
    row("reader-missing-file", lambda: read_ts("/nonexistent/train.ts"), FileNotFoundError,
        r"`source`", r"expected a file or bytes", r"got /nonexistent/train\.ts \(not a file\)"),
    row("reader-wrong-source-type", lambda: read_fasta(42), TypeError,
        r"`source`", r"expected a path \(str or Path\) or bytes", r"got int"),
    # Tasks.
    row("task-unknown-name", lambda: create_task("maxwel"), ValueError,
        r"unknown task 'maxwel'", r"expected one of .*maxwell", r"Did you mean 'maxwell'"),
    row("task-unknown-option", lambda: create_task("maxwell", train_sise=3), ValueError,
        r"^maxwell: .*`task_options`", r"expected options among train_size",
        r"got 'train_sise'", r"Did you mean 'train_size'"),
    row("task-unknown-dataset-option",
        lambda: create_task("gunpoint", validation_fraktion=0.1), ValueError,
        r"^gunpoint: .*`task_options`", r"expected options among root, labels_per_class, "
        r"validation_fraction", r"got 'validation_fraktion'"),
    row("task-zero-size", lambda: create_task("maxwell", train_size=0), ValueError,
        r"`train_size`", r"expected a positive integer", r"got 0"),
    # Training configuration.
    row("config-unknown-key", lambda: make_config(task="maxwell", model="gru", lrr=0.1),
        ValueError, r"invalid training configuration", r"`lrr`", r"Extra inputs",
        r"got 0\.1"),
    row("config-epochs-not-a-number",
        lambda: make_config(task="maxwell", model="gru", epochs="ten"), ValueError,
        r"`epochs`", r"valid integer", r"got 'ten'"),
    row("train-negative-lr", lambda: train("maxwell", lr=-1.0, progress=False), ValueError,
        r"`lr`", r"greater than 0", r"got -1\.0"),
    row("train-zero-epochs", lambda: train("maxwell", epochs=0, progress=False), ValueError,
        r"`epochs`", r"greater than or equal to 1", r"got 0"),
    row("train-unknown-task", lambda: train("maxwel", progress=False), ValueError,
        r"unknown task 'maxwel'", r"Did you mean 'maxwell'"),
    # Prediction with a trained model (VAL-1, VAL-5).
    row("predict-two-columns", lambda: maxwell_model().predict([np.ones((5, 2))]), ValueError,
        r"^maxwell\.predict: .*`sequence 0`", r"expected finite values of shape \(T, 3\): "
        r"stretch, stretch_rate, dt", r"got shape \(5, 2\)"),
    row("predict-nan",
        lambda: maxwell_model().predict([HOLD, [[1, 0.1, 0.1], [1, math.nan, 0.1]]]),
        ValueError, r"`sequence 1`", r"expected finite values",
        r"got nan at step 1, column 'stretch_rate'"),
    row("predict-one-dimensional", lambda: maxwell_model().predict([np.ones(5)]), ValueError,
        r"`sequence 0`", r"of shape \(T, 3\)", r"got shape \(5,\)"),
    row("predict-zero-time-step", lambda: maxwell_model().predict([[[1.0, 0.1, 0.0]]]),
        ValueError, r"`sequence 0`", r"expected dt > 0 at every step", r"got dt = 0\.0 at step 0"),
    # The command line: exit status 2, one `error:` line.
    row("cli-unknown-task", lambda: cli("train", "maxwel"), CommandError,
        r"^exit status 2: error: unknown task 'maxwel'", r"expected one of",
        r"Did you mean 'maxwell'"),
    row("cli-unknown-model", lambda: cli("train", "maxwell", "--model", "gruu", *SMALL_MAXWELL),
        CommandError, r"^exit status 2: error: unknown model 'gruu'", r"expected one of",
        r"Did you mean 'gru'"),
    row("cli-missing-run-directory", lambda: cli("evaluate", "/nonexistent/run"), CommandError,
        r"^exit status 2: error: invalid value for argument `run_dir`", r"/nonexistent/run",
        r"does not exist$"),
    row("cli-set-without-value", lambda: cli("train", "maxwell", "--set", "lr"), CommandError,
        r"^exit status 2: error: .*`--set`", r"expected KEY=VALUE", r"got 'lr'"),
    row("cli-set-bad-value", lambda: cli("train", "maxwell", "--set", "weight_decay=-1"),
        CommandError, r"^exit status 2: error: invalid training configuration",
        r"`weight_decay`", r"greater than or equal to 0", r"got -1"),
    row("cli-set-unknown-key", lambda: cli("train", "maxwell", "--set", "bogus=1"),
        CommandError, r"^exit status 2: error: .*`bogus`", r"Extra inputs", r"got 1"),
    row("cli-set-unknown-task-option",
        lambda: cli("train", "maxwell", "--set", "task_options.train_sise=3"), CommandError,
        r"^exit status 2: error: maxwell: .*`task_options`", r"got 'train_sise'",
        r"Did you mean 'train_size'"),
    row("cli-set-key-that-is-also-an-option",
        lambda: cli("train", "maxwell", "--set", "lr=abc"), CommandError,
        r"^exit status 2: error: invalid training configuration", r"`lr`", r"got 'abc'"),
    row("cli-set-the-task", lambda: cli("train", "maxwell", "--set", "task=gunpoint"),
        CommandError, r"^exit status 2: error: .*`--set`: `task` is the command's argument",
        r"got 'task=gunpoint'"),
    row("cli-set-inside-a-value",
        lambda: cli("train", "maxwell", "--set", "lr=1", "--set", "lr.x=2"), CommandError,
        r"^exit status 2: error: .*`--set`: lr was set to a value, so lr\.x cannot be set"),
    row("cli-set-an-alias",
        lambda: cli("train", "maxwell", "--set", "task_options.x=[&a [1, 2], *a, *a]"),
        CommandError, r"^exit status 2: error: --set task_options\.x: expected plain YAML",
        r"found the alias \*a; aliases are not allowed"),
    row("cli-resume-missing", lambda: cli("train", "maxwell", "--resume", "/nonexistent/run"),
        CommandError, r"^exit status 2: error: invalid value for argument `resume`",
        r"/nonexistent/run does not exist$"),
    row("cli-lr-infinite", lambda: cli("train", "maxwell", "--lr", "inf", *SMALL_MAXWELL),
        CommandError, r"^exit status 2: error: invalid training configuration",
        r"`lr`: Input should be a finite number", r"got inf"),
    row("cli-weight-decay-infinite",
        lambda: cli("train", "maxwell", "--set", "weight_decay=.inf", *SMALL_MAXWELL),
        CommandError, r"`weight_decay`: Input should be a finite number"),
    row("cli-divergence", lambda: cli("train", "maxwell", "--lr", "1e30", *SMALL_MAXWELL),
        CommandError, r"^exit status 2: error: the (training loss|validation loss|gradient norm)",
        r"became", r"the last good checkpoint is kept"),
    row("cli-fetch-unknown-dataset", lambda: cli("data", "fetch", "mnistt"), CommandError,
        r"^exit status 2: error: unknown source or dataset 'mnistt'", r"expected one of",
        r"Did you mean"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "fragments"), CASES)
def test_bad_input_is_refused_with_a_message_naming_argument_expectation_and_value(
    call, error, fragments
):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    missing = [fragment for fragment in fragments if not re.search(fragment, message)]
    assert not missing, f"{missing} not in: {message}"
    assert "Traceback" not in message
