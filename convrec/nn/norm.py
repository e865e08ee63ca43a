"""Batch normalisation whose statistics come from valid positions only.

Seed 003 lists batch normalisation (Ioffe and Szegedy 2015) among the mitigations for unstable
gradients. Per channel ``c``, over the batch and every position ``n`` of it:

    mu_c = mean_n x[n, c]        var_c = mean_n (x[n, c] - mu_c)^2
    y[n, c] = gamma_c * (x[n, c] - mu_c) / sqrt(var_c + eps) + beta_c

For a :class:`Padded` batch the means run over valid positions only, so padding never shifts the
statistics, and the running averages used at evaluation see only real data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import positive_float, positive_int, probability
from convrec.nn.checks import channels
from convrec.nn.padded import LAYOUTS, Padded, broadcast_mask, unwrap_by_rank, wrap


class BatchNorm(nn.Module):
    """Batch normalisation over valid positions, for sequences and grids.

    Args:
        num_features: channels ``C``.
        eps: added to the variance.
        momentum: weight of the newest batch in the running statistics.
        affine: learn ``gamma`` (``weight``) and ``beta`` (``bias``).

    Shape:
        input: ``(B, T, C)`` (channels last), ``(B, C, H, W)`` or ``(B, C, D, H, W)`` (channels
        first), or a :class:`Padded` of one; output the same shape.

    Example:
        >>> norm = BatchNorm(4)
        >>> out = norm(Padded(torch.randn(2, 6, 4), [6, 3]))
        >>> out.data.shape
        torch.Size([2, 6, 4])
    """

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ) -> None:
        super().__init__()
        self.num_features = positive_int("BatchNorm", "num_features", num_features)
        self.eps = positive_float("BatchNorm", "eps", eps)
        self.momentum = probability("BatchNorm", "momentum", momentum)
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        data, lengths, time_dim = unwrap_by_rank("BatchNorm", x)
        rank = data.dim()
        channel_axis = -1 if rank == 3 else 1
        channels("BatchNorm", data, channel_axis, self.num_features, LAYOUTS[rank][0])
        if lengths is None or not self.training:
            channels_first = data.transpose(1, 2) if rank == 3 else data
            output = F.batch_norm(
                channels_first,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                self.training,
                self.momentum,
                self.eps,
            )
            return wrap(output.transpose(1, 2) if rank == 3 else output, lengths, time_dim)
        return wrap(self._masked_training(data, lengths, time_dim, channel_axis), lengths, time_dim)

    def _masked_training(
        self, data: Tensor, lengths: Tensor, time_dim: int, channel_axis: int
    ) -> Tensor:
        """Normalise with statistics of the valid positions, and update the running averages."""
        dims = tuple(axis for axis in range(data.dim()) if axis != channel_axis % data.dim())
        valid = broadcast_mask(lengths, data, time_dim).expand_as(data)
        count = valid.sum(dims)  # (C,), the same for every channel
        mean = data.masked_fill(~valid, 0.0).sum(dims) / count
        shape = [1] * data.dim()
        shape[channel_axis] = self.num_features
        centred = (data - mean.view(shape)).masked_fill(~valid, 0.0)
        variance = centred.pow(2).sum(dims) / count
        with torch.no_grad():
            unbiased = variance * count / (count - 1).clamp(min=1)
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(unbiased.detach(), self.momentum)
        output = centred / torch.sqrt(variance + self.eps).view(shape)
        if self.weight is not None:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output

    def extra_repr(self) -> str:
        affine = self.weight is not None
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={affine}"
