"""Latency per sequence of exported models: onnxruntime against PyTorch on the CPU.

Three zoo models with their default sizes (random weights: latency does not depend on them),
each with the preprocessing of an ``ExportSpec`` (standardisation), run one sequence at a time
(a request) and in a batch of 32 padded sequences of random lengths; both runtimes use the same
number of threads. Prints a Markdown table with the ratio onnxruntime / PyTorch measured in the
same run.

    python benchmarks/export_latency.py [--steps 100] [--repeats 30]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from masked_rnn import time_runs
from provenance import revision

from convrec.export import onnx_model
from convrec.models import create
from convrec.tasks.exported import ExportedModel, ExportSpec

FEATURES = 6
CLASSES = 5
MODELS = {
    "gru (bidirectional, 2 layers)": ("gru", {"num_layers": 2, "bidirectional": True}),
    "fcn": ("fcn", {}),
    "crnn": ("crnn", {}),
}


def exported(name: str, options: dict) -> ExportedModel:
    model = create(name, input_shape=(None, FEATURES), output_size=CLASSES, **options)
    spec = ExportSpec(
        "sequence",
        (None, FEATURES),
        True,
        "probabilities",
        "",
        "",
        mean=torch.randn(FEATURES),
        std=torch.rand(FEATURES) + 0.5,
    )
    return ExportedModel(model, spec).eval()


def session_of(
    module: ExportedModel, threads: int, directory: Path
) -> onnxruntime.InferenceSession:
    dynamic = torch.export.Dim.DYNAMIC
    example = (torch.randn(2, 16, FEATURES), torch.tensor([16, 9]))
    shapes = {"inputs": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}}
    path = directory / "model.onnx"
    path.write_bytes(onnx_model(module, example, shapes, ["inputs", "lengths"]).SerializeToString())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=30)
    arguments = parser.parse_args()
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    print(
        f"date {date.today()}, revision {revision()}, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}"
    )
    print(
        f"machine {platform.machine()}, {platform.processor() or 'unknown processor'}, "
        f"threads {threads}"
    )
    print(f"command: python {' '.join(sys.argv)}\n")
    print("| model | batch | PyTorch ms | onnxruntime ms | ratio ort / torch | max abs diff |")
    print("|---|---|---|---|---|---|")
    generator = torch.Generator().manual_seed(1)
    for label, (name, options) in MODELS.items():
        module = exported(name, options)
        with tempfile.TemporaryDirectory() as directory:
            session = session_of(module, threads, Path(directory))
            for batch in (1, arguments.batch):
                steps = arguments.steps
                lengths = torch.randint(steps // 2, steps + 1, (batch,), generator=generator)
                lengths[0] = steps
                inputs = torch.randn(batch, steps, FEATURES, generator=generator)
                feed = {"inputs": inputs.numpy(), "lengths": lengths.numpy()}

                def torch_run(inputs=inputs, lengths=lengths, module=module):
                    with torch.no_grad():
                        return module(inputs, lengths)

                def onnx_run(feed=feed, session=session):
                    return session.run(None, feed)

                timings = time_runs(
                    {"torch": torch_run, "onnx": onnx_run}, arguments.repeats, "cpu"
                )
                difference = np.abs(torch_run().numpy() - onnx_run()[0]).max()
                times = {key: statistics.median(values) * 1e3 for key, values in timings.items()}
                print(
                    f"| {label} | {batch} x {steps} | {times['torch']:.2f} | {times['onnx']:.2f} | "
                    f"{times['onnx'] / times['torch']:.2f} | {difference:.1e} |"
                )


if __name__ == "__main__":
    main()
