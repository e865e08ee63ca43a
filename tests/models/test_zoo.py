"""One contract for every registered model, on a miniature input of each kind it takes: the output
shape, finite values, a gradient on every parameter, a ``head``, and, for sequences and tokens, an
output for each sequence that does not depend on the padding around it."""

import pytest
import torch
from torch import nn

from convrec.models import available, create, entry
from convrec.nn import Padded

OUTPUTS = 3
VOCABULARY = 12
FEATURES = 4
LENGTHS = [32, 17, 24]
FIXED_LENGTH = ("mlp", "conv-autoencoder")  # models built for one input length


def miniature(
    kind: str, fixed_length: bool, vocabulary: int = VOCABULARY
) -> tuple[dict, Padded | torch.Tensor]:
    """Model arguments and a batch: images (2, 1, 28, 28); sequences and token ids with the
    lengths above (all 32 when the model needs a fixed length)."""
    generator = torch.Generator().manual_seed(0)
    if kind == "image":
        return {"input_shape": (1, 28, 28)}, torch.randn(2, 1, 28, 28, generator=generator)
    lengths = [max(LENGTHS)] * len(LENGTHS) if fixed_length else LENGTHS
    if kind == "tokens":
        items = [torch.randint(2, vocabulary, (length,), generator=generator) for length in lengths]
        arguments = {"input_shape": (None,), "vocab_size": vocabulary}
    else:
        items = [torch.randn(length, FEATURES, generator=generator) for length in lengths]
        arguments = {"input_shape": (None, FEATURES)}
    if fixed_length:
        arguments["input_shape"] = (max(LENGTHS), *arguments["input_shape"][1:])
    return arguments, Padded.from_sequences(items)


CASES = [(model.name, kind) for model in available() for kind in model.inputs]


SYMBOL_OUTPUTS = ("charlm", "seq2seq", "seq2seq-attention")
"""Models whose outputs are symbols of a vocabulary (with the special ones): they get
:data:`VOCABULARY` outputs."""


def output_size(name: str) -> int:
    return VOCABULARY if name in SYMBOL_OUTPUTS else OUTPUTS


def build(name: str, kind: str) -> tuple[nn.Module, Padded | torch.Tensor]:
    vocabulary = 5 if name == "deepbind" else VOCABULARY  # DNA ids: A C G T N
    arguments, batch = miniature(kind, name in FIXED_LENGTH, vocabulary)
    torch.manual_seed(0)
    outputs = output_size(name)
    return create(name, output_size=outputs, input_kind=kind, **arguments), batch


def values(output: Padded | torch.Tensor) -> torch.Tensor:
    return output.data if isinstance(output, Padded) else output


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_output_shape_is_finite_and_every_parameter_gets_a_gradient(name, kind):
    model, batch = build(name, kind)
    output = values(model(batch))
    assert output.shape[0] == len(batch) if isinstance(batch, torch.Tensor) else batch.batch_size
    assert output.shape[-1] == output_size(name)
    assert torch.isfinite(output).all()
    output.square().mean().backward()
    missing = [
        parameter_name
        for parameter_name, parameter in model.named_parameters()
        if parameter.grad is None or not torch.isfinite(parameter.grad).all()
    ]
    assert not missing, f"no finite gradient for {missing}"


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_the_head_is_a_module_that_produces_the_outputs(name, kind):
    model, _ = build(name, kind)
    assert isinstance(model.head, nn.Module)
    assert sum(parameter.numel() for parameter in model.head.parameters()) > 0


SEQUENCE_CASES = [
    (name, kind) for name, kind in CASES if kind != "image" and name not in FIXED_LENGTH
]


@pytest.mark.parametrize(("name", "kind"), SEQUENCE_CASES)
def test_each_sequence_gives_the_same_output_alone_as_in_a_padded_batch(name, kind):
    model, batch = build(name, kind)
    model.eval()
    with torch.no_grad():
        together = model(batch)
        for index, length in enumerate(batch.lengths.tolist()):
            alone = model(Padded(batch.data[index : index + 1, :length], [length]))
            expected = values(alone)[0]
            got = values(together)[index]
            if isinstance(together, Padded):  # as many output steps as alone (an encoder-decoder
                got = got[: int(together.lengths[index])]  # writes its own number)
                expected = expected[: int(alone.lengths[0])]
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_a_model_refuses_an_input_kind_it_does_not_take_naming_the_suitable_ones():
    with pytest.raises(ValueError, match=r"a model that takes tokens input .*textcnn"):
        create("lenet5", input_shape=(None,), output_size=2, input_kind="tokens")


def test_an_unknown_option_is_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"model_options.*hidden_size.*'hiden_size'"):
        create("gru", input_shape=(None, 3), output_size=2, hiden_size=8)


def test_an_unknown_model_name_suggests_close_matches():
    with pytest.raises(ValueError, match="lenet5"):
        entry("lenet")


def test_every_model_lists_its_options_with_their_defaults():
    for model in available():
        assert "input_shape" not in model.options()
        assert all(isinstance(name, str) for name in model.options())
        assert model.description and model.inputs
