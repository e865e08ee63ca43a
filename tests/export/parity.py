"""Export a module taking ``(inputs, lengths)`` to ONNX and compare onnxruntime's answers with
PyTorch's on random padded batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import Tensor, nn

from convrec.export import onnx_model
from convrec.nn import Padded

# (batch size, padded steps) of the batches compared: one step, one sequence, the largest batch
BATCHES = ((1, 1), (1, 9), (16, 12), (5, 7))


class Together(nn.Module):
    """Several modules taking ``(inputs, lengths)`` as one graph (one export instead of many);
    the outputs of each, in order."""

    def __init__(self, modules: list[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        outputs: list[Tensor] = []
        for part in self.parts:
            result = part(inputs, lengths)
            outputs += list(result) if isinstance(result, tuple) else [result]
        return tuple(outputs)


class OnPadded(nn.Module):
    """``layer`` on ``Padded(inputs, lengths)``, every output a plain tensor: the data and
    lengths of a ``Padded``, and each part of a returned state."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        result = self.layer(Padded.trusted(inputs, lengths))
        parts = result if isinstance(result, tuple) else (result,)
        flat: list[Tensor] = []
        for part in parts:
            if isinstance(part, Padded):
                flat += [part.data] if part.lengths is lengths else [part.data, part.lengths]
            elif isinstance(part, tuple):
                flat += list(part)
            else:
                flat.append(part)
        return tuple(flat)


def exported_session(
    module: nn.Module, example: tuple[Tensor, ...], path: Path, fixed_steps: bool = False
) -> onnxruntime.InferenceSession:
    """``module`` exported with a dynamic batch (and number of steps), loaded in onnxruntime."""
    dynamic = torch.export.Dim.DYNAMIC
    axes = {0: dynamic} if fixed_steps else {0: dynamic, 1: dynamic}
    shapes = {"inputs": axes, "lengths": {0: dynamic}}
    proto = onnx_model(module, example, shapes, ["inputs", "lengths"])
    path.write_bytes(proto.SerializeToString())
    return onnxruntime.InferenceSession(str(path))


def random_batch(
    batch: int,
    steps: int,
    features: int | None,
    generator: torch.Generator,
    vocab: int = 0,
    shortest: int = 1,
    padded: int = 0,
) -> tuple[Tensor, Tensor]:
    """Values (or token ids in ``1..vocab-1``) with random lengths in ``shortest..steps``, the
    last ``steps``, padded to ``max(steps, padded)`` with noise (which no layer may read)."""
    lengths = torch.randint(shortest, steps + 1, (batch,), generator=generator)
    lengths[-1] = steps
    total = max(steps, padded)
    if vocab:
        return torch.randint(1, vocab, (batch, total), generator=generator), lengths
    return torch.randn(batch, total, features, generator=generator), lengths


def assert_parity(
    module: nn.Module,
    session: onnxruntime.InferenceSession,
    features: int | None,
    vocab: int = 0,
    batches: tuple[tuple[int, int], ...] = BATCHES,
    atol: float = 1e-5,
    shortest: int = 1,
) -> None:
    """onnxruntime's outputs equal PyTorch's, to ``atol`` (relative for large values), on
    batches padded to at least the graph's ``min_padded_steps`` (the lengths may be shorter)."""
    generator = torch.Generator().manual_seed(0)
    fewest = int(session.get_modelmeta().custom_metadata_map["min_padded_steps"])
    for batch, steps in batches:
        inputs, lengths = random_batch(batch, steps, features, generator, vocab, shortest, fewest)
        with torch.no_grad():
            expected = module(inputs, lengths)
        expected = expected if isinstance(expected, tuple) else (expected,)
        actual = session.run(None, {"inputs": inputs.numpy(), "lengths": lengths.numpy()})
        assert len(actual) == len(expected)
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            np.testing.assert_allclose(
                got,
                want.numpy(),
                rtol=atol,
                atol=atol,
                err_msg=f"output {index}, B{batch} T{steps}",
            )
