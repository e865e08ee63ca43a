"""Character language modelling: predict each next character of a text; bits per character on
the test text; sampling new text with a temperature (``convrec generate``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.checks import fail
from convrec.data.splits import Pairs, Splits
from convrec.data.tokenizers import Tokenizer
from convrec.files import write_text
from convrec.nn import Padded
from convrec.tasks.base import TaskData
from convrec.tasks.dataset import DatasetTask, evaluating, materialised
from convrec.tasks.exported import ExportSpec

SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


class LanguageModelling(DatasetTask):
    """Next-token prediction over windows of a token stream; the output size is the vocabulary."""

    outputs_per_step = True
    curve_metric = "bits_per_char"

    def __init__(self, root: str | None = None, **dataset_options: Any) -> None:
        super().__init__(root, **dataset_options)
        self.tokenizer: Tokenizer | None = None

    @property
    def output_size(self) -> int:
        return len(self._known(self.tokenizer))

    def inputs_of(self, dataset: Dataset) -> Pairs:
        return materialised(dataset)

    def learn_targets(self, splits: Splits) -> None:
        self.tokenizer = splits.tokenizer

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        logits = prediction.data if isinstance(prediction, Padded) else prediction
        return F.cross_entropy(logits.flatten(0, 1), target.flatten())

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Bits per character: the mean cross-entropy of each next character, in bits."""
        logits, targets = self.outputs(model, dataset)
        nats = float(F.cross_entropy(logits.flatten(0, 1), targets.flatten()))
        return {"bits_per_char": nats / math.log(2), "perplexity": math.exp(nats)}

    def generate(
        self,
        model: nn.Module,
        prompt: str,
        length: int,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> str:
        """``prompt`` followed by ``length`` sampled characters (temperature 0: greedy)."""
        if not isinstance(prompt, str) or not prompt:
            raise fail("generate", "prompt", "a non-empty string", repr(prompt))
        if not hasattr(model, "generate"):
            raise fail(
                "generate", "run", "a run of a language model (e.g. 'charlm')", type(model).__name__
            )
        tokenizer = self._known(self.tokenizer)
        generator = torch.Generator().manual_seed(seed)
        ids = model.generate(tokenizer.encode(prompt), length, temperature, generator)
        return prompt + "".join(tokenizer.decode(ids.tolist()))

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        """Writes ``samples.txt``: text sampled at a few temperatures (no picture)."""
        samples = [
            f"--- temperature {temperature} ---\n"
            + self.generate(model, "The ", 400, temperature, seed=0)
            for temperature in SAMPLE_TEMPERATURES
        ]
        write_text(directory / "samples.txt", "\n\n".join(samples) + "\n")
        return []

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Next-token probabilities ``(T, vocabulary)`` after each prefix of each id sequence."""
        results = []
        with evaluating(model) as device:
            for sequence in sequences:
                output = model(self.model_inputs([sequence]).to(device))
                logits = output.data if isinstance(output, Padded) else output
                results.append(logits[0].softmax(dim=-1).cpu().numpy())
        return results

    def state(self) -> dict[str, Any]:
        return super().state() | {"tokenizer": self._known(self.tokenizer).state()}

    def export_spec(self) -> ExportSpec:
        """Next-token probabilities ``(batch, time, vocabulary)`` after each prefix."""
        spec = super().export_spec()
        spec.output = "probabilities"
        spec.output_layout = f"(batch, time, {self.output_size}) float32 next-token probabilities"
        spec.metadata["tokenizer"] = self._known(self.tokenizer).state()
        return spec

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.tokenizer = Tokenizer.from_state(state["tokenizer"])
