"""A worked example of a convrec plugin: a dataset, a task and a model of one's own.

Importing this module registers them; convrec finds it either through the entry point its
package declares (``pip install -e examples/plugin``; see its ``pyproject.toml``) or with
``convrec --import convrec_sine_plugin COMMAND ...`` from the folder that holds it. Then every
command knows them::

    convrec --import convrec_sine_plugin train sine-frequency --epochs 5
    convrec --import convrec_sine_plugin predict runs/sine-frequency-... waves.npz
    convrec --import convrec_sine_plugin report runs/sine-frequency-...

- the dataset ``sine-waves``: noisy sine waves of 64 steps, slow (2 to 4 cycles) or fast (6 to
  8), made by a seeded generator (nothing to fetch);
- the task ``sine-frequency``: tell slow from fast; a classification task on that dataset, so it
  gets convrec's loss, metrics, pictures and prediction for free;
- the model ``tiny-cnn``: one convolution, global pooling and a linear ``head``;
- the recurrent cell ``mgu``: the minimal gated unit, written as its equations; every recurrent
  model of the zoo runs it, stacked, bidirectional and masked::

      convrec --import convrec_sine_plugin train sine-frequency --model gru \\
          --set model_options.cell=mgu --set model_options.bidirectional=true
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from convrec.data import Pairs, Splits, register_dataset
from convrec.models import register_model
from convrec.nn import Conv1d, GlobalPool, RecurrentCell, register_cell
from convrec.tasks import Classification, register_task


@register_dataset("sine-waves", None, "noisy sine waves, slow or fast (a plugin's example)")
def sine_waves(root: str | None = None, seed: int = 0, count: int = 240) -> Splits:
    """``count`` series ``(64, 1)`` per split, labels 0 (slow) and 1 (fast), from ``seed``."""

    def split(offset: int) -> Pairs:
        rng = np.random.default_rng([seed, offset])
        fast = rng.integers(0, 2, count)
        cycles = np.where(fast, rng.uniform(6, 8, count), rng.uniform(2, 4, count))
        time = np.linspace(0, 1, 64)
        waves = np.sin(2 * np.pi * cycles[:, None] * time + rng.uniform(0, 6.3, (count, 1)))
        waves += 0.2 * rng.normal(size=waves.shape)
        return Pairs(torch.tensor(waves, dtype=torch.float32)[..., None], torch.tensor(fast))

    return Splits("sine-waves", split(0), split(1), split(2), ("slow", "fast"))


@register_model("tiny-cnn", "one convolution, global max pooling, a linear head", ("sequence",))
class TinyCNN(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        input_kind: str = "sequence",
        channels: int = 16,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            Conv1d(input_shape[-1], channels, 9, padding="same"), nn.ReLU(), GlobalPool("max")
        )
        self.head = nn.Linear(channels, output_size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs))


@register_cell("mgu")
class MinimalGatedUnit(RecurrentCell):
    """The minimal gated unit (Zhou, Wu, Zhang & Zhou 2016, "Minimal gated unit for recurrent
    neural networks"): a GRU whose one forget gate both resets and updates,

        f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)              forget gate
        h~_t = tanh(W_h x_t + U_h (f_t * h_{t-1}) + b_h)         candidate
        h_t = (1 - f_t) * h_{t-1} + f_t * h~_t                  hidden state

    Shape:
        x_t: ``(B, I)``; state ``(h,)``, ``(B, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, init: str = "torch") -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.forget_x = nn.Linear(input_size, hidden_size)
        self.forget_h = nn.Linear(hidden_size, hidden_size, bias=False)
        self.candidate_x = nn.Linear(input_size, hidden_size)
        self.candidate_h = nn.Linear(hidden_size, hidden_size, bias=False)
        if init == "keras":  # orthogonal recurrent weights, as the zoo's other cells
            nn.init.orthogonal_(self.forget_h.weight)
            nn.init.orthogonal_(self.candidate_h.weight)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        (h,) = state
        f = torch.sigmoid(self.forget_x(x) + self.forget_h(h))
        candidate = torch.tanh(self.candidate_x(x) + self.candidate_h(f * h))
        return ((1 - f) * h + f * candidate,)

    def gate_values(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> dict[str, torch.Tensor]:
        (h,) = state
        f = torch.sigmoid(self.forget_x(x) + self.forget_h(h))
        candidate = torch.tanh(self.candidate_x(x) + self.candidate_h(f * h))
        return {"forget (sigmoid)": f, "candidate (tanh)": candidate}

    def recurrent_weights(self) -> dict[str, torch.Tensor]:
        return {"forget": self.forget_h.weight, "candidate": self.candidate_h.weight}


@register_task
class SineFrequency(Classification):
    """Slow or fast sine waves (a plugin's example)."""

    name = "sine-frequency"
    description = "slow or fast sine waves: a plugin's example task"
    dataset = "sine-waves"
    default_model = "tiny-cnn"
    models = {"tiny-cnn": {"epochs": 10, "batch_size": 32, "lr": 3e-3}}  # noqa: RUF012
