"""ONNX parity of every model in the zoo, small, on the miniature inputs of its zoo test: batches
of 1 to 16 sequences of random lengths (from the fewest steps the group's models take to 30),
onnxruntime against PyTorch to 1e-5. Models are exported in groups, one graph per group."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from convrec.errors import InvalidValueError, UserError
from convrec.export import onnx_model
from convrec.models import available, create
from convrec.nn import Padded
from convrec.tasks.exported import ExportedModel, ExportSpec
from tests.export.parity import Together, assert_parity
from tests.models.test_zoo import FEATURES, FIXED_LENGTH, LENGTHS, OUTPUTS, VOCABULARY, miniature

STEPS = 30
WINDOW = (max(LENGTHS), FEATURES)  # the fixed-length models' input, as their zoo test builds them
SMALL = {
    "resnet": {"widths": (8, 16), "blocks_per_stage": 1},
    "fcn": {"widths": (8, 8, 8)},
    "inception-time": {"depth": 3, "filters": 4, "bottleneck": 4, "kernel_sizes": (9, 5)},
    "crnn": {"channels": (8, 8), "hidden_size": 8},
    "charlm": {"embedding_dim": 8, "hidden_size": 16},
    "textcnn": {"embedding_dim": 8, "num_filters": 8},
    "deepbind": {"num_filters": 8, "hidden_size": 8},
    "vgg": {"widths": (8, 16)},
}
GROUPS = {
    "recurrent": ("sequence", ["gru", "lstm", "rnn", "forecaster", "crnn"]),
    "convolutional": ("sequence", ["deepbind", "fcn", "inception-time", "resnet", "textcnn"]),
    "tokens": ("tokens", ["charlm", "deepbind", "gru", "lstm", "rnn", "textcnn"]),
}


def test_the_groups_cover_every_model_of_the_zoo():
    covered = {(name, kind) for kind, names in GROUPS.values() for name in names}
    covered |= {(name, "image") for name in ("lenet5", "mlp", "resnet", "vgg")}
    covered |= {("mlp", "sequence"), ("conv-autoencoder", "sequence")}  # fixed length, below
    covered |= {("maxwell-cell", "sequence")}  # refused, below
    covered |= {("seq2seq", "tokens"), ("seq2seq-attention", "tokens")}  # refused, below
    assert covered == {(model.name, kind) for model in available() for kind in model.inputs}


def small_model(
    name: str, kind: str, fixed: bool = False
) -> tuple[nn.Module, Padded | torch.Tensor]:
    vocabulary = 5 if name == "deepbind" and kind == "tokens" else VOCABULARY
    arguments, batch = miniature(kind, fixed, vocabulary)
    torch.manual_seed(0)
    outputs = VOCABULARY if name == "charlm" else OUTPUTS
    options = SMALL.get(name, {}) if kind != "image" or name != "resnet" else {"widths": (8, 16)}
    model = create(name, output_size=outputs, input_kind=kind, **arguments, **options)
    return model.eval(), batch


def exported(model: nn.Module, kind: str, shape: tuple, fixed: bool) -> ExportedModel:
    spec = ExportSpec(kind, shape, not fixed, "values", "", "")
    return ExportedModel(model, spec).eval()


def shortest_length(module: nn.Module, features: int | None, vocabulary: int) -> int:
    """The fewest steps every model of a group takes (convolutions and pooling need some)."""
    for length in range(1, STEPS + 1):
        inputs = torch.ones(1, length, dtype=torch.long) if features is None else None
        inputs = torch.randn(1, length, features) if inputs is None else inputs
        try:
            with torch.no_grad():
                module(inputs % vocabulary if features is None else inputs, torch.tensor([length]))
        except UserError:
            continue
        return length
    raise AssertionError("the models take no length up to 30")


def session_of(module: nn.Module, example: tuple, shapes: dict, names: list, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model(module, example, shapes, names).SerializeToString())
    return onnxruntime.InferenceSession(str(path))


@pytest.mark.slow  # 10-25 s a group; CI runs the layers' parity (test_onnx_layers.py)
@pytest.mark.parametrize("group", list(GROUPS))
def test_every_zoo_model_exports_with_a_variable_batch_and_length(group, tmp_path):
    kind, names = GROUPS[group]
    features = FEATURES if kind == "sequence" else None
    models, batch = zip(*(small_model(name, kind) for name in names), strict=True)
    shape = (None, FEATURES) if kind == "sequence" else (None,)
    module = Together([exported(model, kind, shape, False) for model in models]).eval()
    vocabulary = 5 if "deepbind" in names and kind == "tokens" else VOCABULARY
    shortest = shortest_length(module, features, vocabulary)
    dynamic = torch.export.Dim.DYNAMIC
    shapes = {"inputs": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}}
    example = (batch[0].data % vocabulary if kind == "tokens" else batch[0].data, batch[0].lengths)
    session = session_of(module, example, shapes, ["inputs", "lengths"], tmp_path)
    assert_parity(
        module,
        session,
        features,
        vocab=vocabulary if kind == "tokens" else 0,
        batches=((1, shortest), (16, STEPS), (5, STEPS - 7)),
        shortest=shortest,
    )


def test_image_models_and_the_fixed_length_ones_export_with_a_variable_batch(tmp_path):
    images = [small_model(name, "image")[0] for name in ("lenet5", "mlp", "resnet", "vgg")]
    image_module = Together([exported(model, "image", (1, 28, 28), True) for model in images])
    dynamic = torch.export.Dim.DYNAMIC

    class ImagesOnly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.together = image_module

        def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(part(inputs) for part in self.together.parts)

    module = ImagesOnly().eval()
    session = session_of(
        module, (torch.randn(2, 1, 28, 28),), {"inputs": {0: dynamic}}, ["inputs"], tmp_path
    )
    cases = [(session, module, (1, 28, 28))]
    for name in FIXED_LENGTH:
        fixed = exported(small_model(name, "sequence", fixed=True)[0], "sequence", WINDOW, True)
        example = (torch.randn(2, *WINDOW),)
        (tmp_path / name).mkdir()
        graph = session_of(fixed, example, {"inputs": {0: dynamic}}, ["inputs"], tmp_path / name)
        cases.append((graph, fixed, WINDOW))
    for size in (1, 16):
        for graph, torch_module, shape in cases:
            inputs = torch.randn(size, *shape)
            with torch.no_grad():
                expected = torch_module(inputs)
            expected = expected if isinstance(expected, tuple) else (expected,)
            actual = graph.run(None, {"inputs": inputs.numpy()})
            for got, want in zip(actual, expected, strict=True):
                np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


def test_an_encoder_decoder_is_refused_by_its_task_naming_the_decoding_loop():
    """Beam search feeds back the model's own outputs, step by step: no graph form."""
    from convrec.tasks import create_task

    with pytest.raises(InvalidValueError, match=r"g2p: .*beam search.*convrec predict RUN words"):
        create_task("g2p").export_spec()


def test_the_maxwell_cell_is_refused_naming_its_cell():
    """Its Newton iterations stop on data-dependent convergence: no ONNX form yet."""
    model, batch = small_model("maxwell-cell", "sequence")
    module = exported(model, "sequence", (None, FEATURES), False)
    dynamic = torch.export.Dim.DYNAMIC
    with pytest.raises(InvalidValueError, match=r"ONNX and torch\.export form.*MaxwellCell"):
        onnx_model(
            module,
            (batch.data, batch.lengths),
            {"inputs": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}},
            ["inputs", "lengths"],
        )
