"""What the first convolution learned: its filters, and the feature maps it makes of a few inputs
(images, 1D signals, spectrograms), as the notes draw them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor, nn

from convrec.diagnose.plots import save_figure
from convrec.nn.conv import _ConvNd
from convrec.nn.padded import Padded

_TORCH_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d)
MAPS_SHOWN = 6
FILTERS_SHOWN = 16


@dataclass(frozen=True)
class FirstConvolution:
    """The first convolution a model runs, seen on a batch.

    Attributes:
        name: its qualified name in the model.
        weight: ``(C_out, C_in, *kernel)``.
        inputs: ``(N, C_in, *spatial)``, what it read, channels first.
        outputs: ``(N, C_out, *spatial)``, its feature maps.
        lengths: ``(N,)`` valid steps of padded inputs, or None.
    """

    name: str
    weight: np.ndarray
    inputs: np.ndarray
    outputs: np.ndarray
    lengths: np.ndarray | None


def first_convolution(model: nn.Module, examples: Tensor | Padded) -> FirstConvolution | None:
    """Run ``model`` on ``examples`` and catch the first 1D or 2D convolution it calls; None if
    it calls none."""
    names = {module: name for name, module in model.named_modules()}
    caught: list[FirstConvolution] = []

    def hook(module: nn.Module, inputs: tuple, output: object) -> None:
        if caught:
            return
        given, lengths = _unpadded(inputs[0])
        produced, _ = _unpadded(output)
        if isinstance(module, _ConvNd) and module.channels_last:
            given, produced = given.movedim(-1, 1), produced.movedim(-1, 1)
        caught.append(
            FirstConvolution(
                names[module],
                module.weight.detach().cpu().numpy(),
                given.detach().float().cpu().numpy(),
                produced.detach().float().cpu().numpy(),
                None if lengths is None else lengths.cpu().numpy(),
            )
        )

    handles = [
        module.register_forward_hook(hook)
        for module in model.modules()
        if (isinstance(module, _ConvNd) and module.dims <= 2)
        or isinstance(module, _TORCH_CONVOLUTIONS)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(examples)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return caught[0] if caught else None


def _unpadded(value: object) -> tuple[Tensor, Tensor | None]:
    if isinstance(value, Padded):
        return value.data, value.lengths
    return value, None


def plot_first_convolution(model: nn.Module, examples: Tensor | Padded, path: Path) -> Path | None:
    """Draw the first convolution's filters and its feature maps of each example input.

    Args:
        model: a model with a 1D or 2D convolution (convrec's or ``torch.nn``'s).
        examples: a small batch of model inputs (3 or 4 are drawn).
        path: where to write the PNG.

    Returns:
        ``path``, or None when the model calls no convolution.
    """
    seen = first_convolution(model, examples)
    if seen is None:
        return None
    count = min(4, len(seen.inputs))
    columns = 1 + MAPS_SHOWN if seen.inputs.ndim == 4 else 2
    figure, grid = plt.subplots(
        1 + count,
        columns,
        figsize=(max(8.0, 2.1 * columns), 2.0 * (1 + count)),
        layout="constrained",
        squeeze=False,
    )
    _draw_filters(figure, grid[0], seen.weight)
    for row in range(count):
        length = None if seen.lengths is None else int(seen.lengths[row])
        _draw_example(grid[row + 1], seen.inputs[row], seen.outputs[row], length)
    figure.suptitle(f"First convolution ({seen.name}): filters, and feature maps of test inputs")
    return save_figure(figure, path)


def _draw_filters(figure: plt.Figure, axes_row: np.ndarray, weight: np.ndarray) -> None:
    """2D filters as small images (mean over input channels); 1D filters as one heat map of
    filters against (input channel, tap)."""
    for axes in axes_row:
        axes.set_axis_off()
    shown = weight[:FILTERS_SHOWN]
    if shown.ndim == 4 and shown.shape[1] == 3:  # filters over RGB: in colour
        tiles = _mosaic(np.moveaxis(shown, 1, -1))
        axes_row[0].imshow(_unit_range(np.nan_to_num(tiles, nan=np.nanmax(tiles))))
        axes_row[0].set_title(f"{len(shown)} of {len(weight)} filters (RGB)")
        return
    if shown.ndim == 4:
        mosaic = _mosaic(shown.mean(axis=1))
        span = np.nanmax(abs(mosaic))
        axes_row[0].imshow(mosaic, cmap="RdBu_r", vmin=-span, vmax=span)
        axes_row[0].set_title(f"{len(shown)} of {len(weight)} filters")
        return
    flat = shown.reshape(len(shown), -1)
    span = abs(flat).max()
    image = axes_row[0].imshow(flat, cmap="RdBu_r", vmin=-span, vmax=span, aspect="auto")
    axes_row[0].set_title(f"{len(shown)} filters x (channel, tap)")
    figure.colorbar(image, ax=axes_row[0], shrink=0.8)


def _mosaic(filters: np.ndarray) -> np.ndarray:
    """``(N, kh, kw)`` (or ``(N, kh, kw, 3)``) filters tiled on a square grid with one-pixel
    gaps (NaN)."""
    count, height, width = filters.shape[:3]
    side = int(np.ceil(np.sqrt(count)))
    mosaic = np.full((side * (height + 1), side * (width + 1), *filters.shape[3:]), np.nan)
    for index, kernel in enumerate(filters):
        row, column = divmod(index, side)
        top, left = row * (height + 1), column * (width + 1)
        mosaic[top : top + height, left : left + width] = kernel
    return mosaic


def _unit_range(values: np.ndarray) -> np.ndarray:
    """``values`` scaled linearly to [0, 1] (a constant array to 0)."""
    low, high = float(np.min(values)), float(np.max(values))
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _draw_example(
    axes_row: np.ndarray, given: np.ndarray, maps: np.ndarray, length: int | None
) -> None:
    """One input (left) and its first feature maps (right)."""
    for axes in axes_row:
        axes.set_axis_off()
    if given.ndim == 3:  # (C, H, W): an image or a 2D spectrogram
        if len(given) in (3, 4):  # RGB (and alpha): shown in colour, scaled to [0, 1]
            axes_row[0].imshow(_unit_range(np.moveaxis(given[:3], 0, -1)))
        else:
            axes_row[0].imshow(given[0], cmap="gray")
        axes_row[0].set_title("input")
        for channel, axes in enumerate(axes_row[1 : 1 + min(MAPS_SHOWN, len(maps))]):
            axes.imshow(maps[channel], cmap="viridis")
            axes.set_title(f"map {channel}")
        return
    steps = given.shape[-1] if length is None else length
    signal = given[:, :steps]
    axes_row[0].set_axis_on()
    if len(signal) > 8:  # many channels: a spectrogram or features over time
        axes_row[0].imshow(signal, aspect="auto", origin="lower", cmap="magma")
    else:
        axes_row[0].plot(signal.T, linewidth=0.8)
    axes_row[0].set_title("input")
    output_steps = max(1, round(maps.shape[-1] * steps / given.shape[-1]))
    panel = axes_row[1]
    panel.set_axis_on()
    panel.imshow(maps[:, :output_steps], aspect="auto", origin="lower", cmap="viridis")
    panel.set(title=f"{len(maps)} maps over time", xlabel="step", ylabel="channel")
