"""A tour of convrec.nn: the notes' CNN + bidirectional LSTM stack on a padded batch.

Prints each layer's output shape, parameters, jump and receptive field, then shows that a
sequence's output does not depend on the padding around it, and that the two recurrent backends
agree.

Usage:
    python examples/tour.py
"""

import torch
from torch import nn

from convrec.nn import LSTM, Conv1d, GlobalPool, Padded, Pointwise, Pool1d, receptive_field


def build(backend: str = "auto") -> nn.Sequential:
    """Conv1d -> ReLU -> max pool -> bidirectional LSTM -> global mean -> linear, for 6 features
    (e.g. accelerometer and gyroscope x, y, z) and 4 classes."""
    return nn.Sequential(
        Conv1d(6, 16, kernel_size=5, padding="same"),
        Pointwise(nn.ReLU()),
        Pool1d("max", 2),
        Conv1d(16, 32, kernel_size=3, stride=2, padding="same"),
        Pointwise(nn.ReLU()),
        LSTM(32, 24, bidirectional=True, backend=backend),
        GlobalPool("mean"),
        nn.Linear(48, 4),
    )


def main() -> None:
    torch.manual_seed(0)
    model = build().eval()
    sequences = [torch.randn(length, 6) for length in (100, 37, 64)]
    batch = Padded.from_sequences(sequences)
    print(f"input: {batch}\n")
    print(f"{'layer':<10} {'output shape':<16} {'params':>7} {'jump':>6} {'field':>6}")
    fields = {row.name: row for row in receptive_field(model, batch)}
    for name, layer in model.named_children():
        row = fields.get(name)
        output_shape = row.output_shape if row else "position-wise"
        jump = row.jump[0] if row and row.jump else "-"
        size = (row.size[0] if row.size else "all") if row else "-"
        params = sum(parameter.numel() for parameter in layer.parameters())
        print(
            f"{type(layer).__name__:<10} {output_shape!s:<16} {params:>7} {jump!s:>6} {size!s:>6}"
        )
    print(f"total parameters: {sum(parameter.numel() for parameter in model.parameters())}\n")

    with torch.no_grad():
        batched = model(batch)
        alone = torch.cat([model(sequence.unsqueeze(0)) for sequence in sequences])
        reference = build("reference").eval()
        reference.load_state_dict(model.state_dict())
        looped = reference(batch)
    print("largest difference, each sequence alone vs in the padded batch:", end=" ")
    print(f"{(batched - alone).abs().max():.2e}")
    print("largest difference, native vs reference recurrent backend:", end=" ")
    print(f"{(batched - looped).abs().max():.2e}")


if __name__ == "__main__":
    main()
