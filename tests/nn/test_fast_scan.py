"""The fused scans of convrec.nn.fast_scan equal the reference loop over the cells, forward and
backward: outputs, final states and the gradients of every input, with lengths, recurrent
dropout, one or two directions, with and without biases."""

import pytest
import torch

from convrec.errors import InvalidValueError
from convrec.nn.cells import gru_cell, lstm_cell, peephole_lstm_cell, rnn_cell
from convrec.nn.fast_scan import gru_scan, lstm_scan, rnn_scan
from convrec.nn.recurrent import scan_reference

B, T, I, H = 4, 6, 3, 5  # noqa: E741 (the shapes' usual letters)
GATES = {"lstm": 4, "peephole": 4, "gru_before": 3, "gru_after": 3, "rnn_tanh": 1, "rnn_relu": 1}
# float32 also allows its own rounding relative to the value: gradients of weights summed over
# all steps reach the hundreds for the ReLU RNN.
TOLERANCE = {
    torch.float64: {"rtol": 0, "atol": 1e-10},
    torch.float32: {"rtol": 1.3e-6, "atol": 1e-5},
}


@pytest.fixture(autouse=True)
def one_thread():
    """The tensors here are tiny: one intra-op thread, so that a busy machine's other processes
    cannot stall a test in the threads' barriers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_inputs(kind, directions, bias, dtype, seed=0, sizes=(B, T, I, H)):
    """Random inputs of a scan, as a dict of its argument names; all floating ones need grad."""
    generator = torch.Generator().manual_seed(seed)
    batch, steps, features, hidden = sizes

    def randn(*shape, scale=1.0):
        values = torch.randn(*shape, generator=generator, dtype=dtype) * scale
        return values.requires_grad_()

    # weights of the size PyTorch initialises them to, so that float32 keeps its digits
    scale = hidden**-0.5
    gates = GATES[kind]
    inputs = {
        "x": randn(directions, batch, steps, features),
        "h0": randn(directions, batch, hidden),
        "weight_ih": randn(directions, gates * hidden, features, scale=scale),
        "weight_hh": randn(directions, gates * hidden, hidden, scale=scale),
        "bias_ih": randn(directions, gates * hidden, scale=scale) if bias else None,
        "bias_hh": randn(directions, gates * hidden, scale=scale) if bias else None,
    }
    if kind in ("lstm", "peephole"):
        inputs["c0"] = randn(directions, batch, hidden)
    if kind == "peephole":
        inputs["weight_peephole"] = randn(directions, 3 * hidden, scale=scale)
    return inputs


def random_lengths(seed=0, batch=B, steps=T):
    """Lengths in 1..T, including T and 1."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0], lengths[1] = steps, 1
    return lengths


def random_keep(directions, dtype, seed=0, batch=B, hidden=H):
    """A scaled recurrent-dropout mask (D, B, H), keeping 70 %."""
    generator = torch.Generator().manual_seed(seed)
    keep = torch.rand(directions, batch, hidden, generator=generator, dtype=dtype) < 0.7
    return keep.to(dtype) / 0.7


def fast(kind, inputs, lengths, keep):
    """The fused scan: ``(outputs, h_n[, c_n])``."""
    arguments = (inputs["x"], lengths, inputs["h0"])
    weights = tuple(inputs[name] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    if kind in ("lstm", "peephole"):
        peephole = inputs.get("weight_peephole")
        return lstm_scan(*arguments, inputs["c0"], *weights, peephole, keep)
    if kind.startswith("gru"):
        return gru_scan(*arguments, *weights, kind == "gru_after", keep)
    return rnn_scan(*arguments, *weights, kind.removeprefix("rnn_"), keep)


def reference(kind, inputs, lengths, keep):
    """``scan_reference`` over the cell of :mod:`convrec.nn.cells`, each direction on its own."""
    outputs, finals = [], []
    for d in range(len(inputs["x"])):
        weights = [
            None if inputs[name] is None else inputs[name][d]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]
        if kind == "peephole":
            weights.append(inputs["weight_peephole"][d])
        start = (inputs["h0"][d], inputs["c0"][d]) if "c0" in inputs else (inputs["h0"][d],)
        output, final = scan_reference(
            reference_step(kind, weights),
            inputs["x"][d],
            lengths,
            start,
            None if keep is None else keep[d],
        )
        outputs.append(output)
        finals.append(final)
    return torch.stack(outputs), *(torch.stack(part) for part in zip(*finals, strict=True))


def reference_step(kind, weights):
    """One step ``(x_t, state) -> state`` of the cell's reference function."""
    if kind == "lstm":
        return lambda x, state: lstm_cell(x, state, *weights)
    if kind == "peephole":
        return lambda x, state: peephole_lstm_cell(x, state, *weights)
    if kind.startswith("gru"):
        return lambda x, state: (gru_cell(x, state[0], *weights, kind == "gru_after"),)
    return lambda x, state: (rnn_cell(x, state[0], *weights, kind.removeprefix("rnn_")),)


def loss(results, seed=1):
    """A random weighting of every result, so that each gets its own gradient."""
    generator = torch.Generator().manual_seed(seed)
    total = 0
    for result in results:
        weights = torch.randn(result.shape, generator=generator, dtype=result.dtype)
        total = total + (result * weights).sum()
    return total


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("dropout", [False, True], ids=["keep_all", "keep_mask"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("directions", [1, 2])
@pytest.mark.parametrize("kind", list(GATES))
def test_scan_equals_reference(kind, directions, masked, dropout, bias, dtype):
    inputs = make_inputs(kind, directions, bias, dtype)
    lengths = random_lengths() if masked else None
    keep = random_keep(directions, dtype) if dropout else None
    assert_equal_to_reference(kind, inputs, lengths, keep, TOLERANCE[dtype])


@pytest.mark.parametrize("kind", list(GATES))
def test_every_length_short_of_the_padding(kind):
    """No step runs after the longest length: outputs there repeat the final state, and ``x``
    there gets a zero gradient."""
    inputs = make_inputs(kind, 2, True, torch.float64)
    lengths = torch.tensor([T - 2, 1, T - 3, T - 2])
    keep = random_keep(2, torch.float64)
    assert_equal_to_reference(kind, inputs, lengths, keep, TOLERANCE[torch.float64])


def assert_equal_to_reference(kind, inputs, lengths, keep, tolerance):
    """Outputs, final states and the gradients of every input of a loss on them."""
    ours = fast(kind, inputs, lengths, keep)
    theirs = reference(kind, inputs, lengths, keep)
    for mine, expected in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, expected, **tolerance)
    names = [name for name, value in inputs.items() if value is not None and value.requires_grad]
    our_grads = torch.autograd.grad(loss(ours), [inputs[name] for name in names])
    their_grads = torch.autograd.grad(loss(theirs), [inputs[name] for name in names])
    for name, mine, expected in zip(names, our_grads, their_grads, strict=True):
        torch.testing.assert_close(
            mine, expected, **tolerance, msg=lambda text, name=name: f"{name}: {text}"
        )


@pytest.mark.parametrize("kind", list(GATES))
def test_gradcheck(kind):
    inputs = make_inputs(kind, 2, True, torch.float64, seed=2, sizes=(3, 4, 2, 2))
    names = list(inputs)
    lengths = random_lengths(seed=3, batch=3, steps=4)
    keep = random_keep(2, torch.float64, seed=4, batch=3, hidden=2)

    def scan(*values):
        return fast(kind, dict(zip(names, values, strict=True)), lengths, keep)

    assert torch.autograd.gradcheck(scan, tuple(inputs.values()), fast_mode=True)


@pytest.mark.parametrize("kind", list(GATES))
def test_inference_gives_the_same_outputs_and_no_graph(kind):
    inputs = make_inputs(kind, 2, True, torch.float32)
    lengths, keep = random_lengths(), random_keep(2, torch.float32)
    trained = fast(kind, inputs, lengths, keep)
    with torch.no_grad():
        inferred = fast(kind, inputs, lengths, keep)
    for with_graph, without in zip(trained, inferred, strict=True):
        assert with_graph.grad_fn is not None and without.grad_fn is None
        torch.testing.assert_close(without, with_graph, rtol=0, atol=0)


@pytest.mark.parametrize("kind", list(GATES))
def test_weight_gradients_when_the_input_needs_none(kind):
    inputs = make_inputs(kind, 2, True, torch.float64)
    inputs["x"] = inputs["x"].detach()
    assert_equal_to_reference(kind, inputs, random_lengths(), None, TOLERANCE[torch.float64])


def test_refuses_lengths_out_of_range():
    inputs = make_inputs("rnn_tanh", 1, True, torch.float32)
    lengths = torch.tensor([T + 1, 1, 2, 3])
    with pytest.raises(InvalidValueError, match=r"`lengths`: expected lengths from 1 to T = 6"):
        fast("rnn_tanh", inputs, lengths, None)


def test_refuses_weights_of_the_wrong_shape():
    inputs = make_inputs("gru_before", 2, False, torch.float32)
    inputs["weight_hh"] = inputs["weight_hh"][:, :, :-1]
    with pytest.raises(InvalidValueError, match=r"`weight_hh`: expected a tensor of shape"):
        fast("gru_before", inputs, None, None)
