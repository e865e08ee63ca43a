"""LeNet-5 (LeCun et al. 1998), the convolutional network of the notes' first CNN example."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import fail, one_of, positive_int
from convrec.models.arguments import fixed_input, image_shape
from convrec.models.registry import register
from convrec.nn import Conv2d, Pool2d
from convrec.nn.sizes import conv_output_size, pool_output_size

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
POOLS = ("max", "mean")
SMALLEST_SIDE = 12
ORIGINAL_SIDE = 32


def feature_side(side: int, padding: int) -> int:
    """One side of LeNet-5's last feature map: conv 5x5 with ``padding``, pool 2x2, conv 5x5,
    pool 2x2 (5 for the original 32, and for 28 with ``padding=2``)."""
    side = pool_output_size(conv_output_size(side, 5, padding=padding), 2)
    return pool_output_size(conv_output_size(side, 5), 2)


WEIGHT_NAMES_BEFORE_DENSE_HEAD = {
    "features.7.weight": "head.1.weight",
    "features.7.bias": "head.1.bias",
    "features.9.weight": "head.3.weight",
    "features.9.bias": "head.3.bias",
    "head.weight": "head.5.weight",
    "head.bias": "head.5.bias",
}
"""Weight names of runs saved when ``head`` was the last linear layer alone, and their names now
(none of the old names exists in the current layout)."""


def _rename_weights_saved_before_dense_head(
    module: nn.Module, state_dict: dict, prefix: str, *_: object
) -> None:
    """Let runs saved before the fully connected layers moved into ``head`` load: rename their
    weights in ``state_dict`` in place (``prefix`` is the model's own, inside a larger one)."""
    for old, new in WEIGHT_NAMES_BEFORE_DENSE_HEAD.items():
        if prefix + old in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


@register(
    "lenet5",
    "LeNet-5 (LeCun et al. 1998): two 5x5 conv + pool stages, then 120-84 fully connected",
    inputs=("image",),
)
class LeNet5(nn.Module):
    """LeNet-5 after LeCun, Bottou, Bengio and Haffner 1998, "Gradient-based learning applied
    to document recognition", as the notes build it for CIFAR-10.

    ``conv 5x5 (6) -> pool 2x2 -> conv 5x5 (16) -> pool 2x2 -> 120 -> 84 -> output``. By default
    it uses ReLU and max pooling, as modern versions (and the notes) do; ``activation='tanh'``
    and ``pool='mean'`` come closer to the original's squashing units and average subsampling.

    The original reads 32x32 images. Along each side shorter than 32 the first convolution pads
    by 2, so a 28x28 image (MNIST, Fashion-MNIST) gets exactly the original geometry, as LeCun
    et al. centred 28x28 digits in a 32x32 field; sides of 32 or more are not padded. Any image
    of at least 12x12 works: the flattened size comes from ``input_shape``.

    The convolution and pooling stages are the ``features``; the fully connected layers are the
    ``head``, so transfer learning freezes the convolutions and retrains the dense layers, as the
    notes describe it.

    Args:
        input_shape: ``(C, H, W)``, with ``H, W >= 12``.
        output_size: number of classes ``O``.
        activation: ``'relu'`` or ``'tanh'``, after every layer but the last.
        pool: ``'max'`` or ``'mean'``.

    Shape:
        input: ``(B, C, H, W)`` as ``input_shape``; output ``(B, O)`` logits.

    Example:
        >>> LeNet5((1, 28, 28), 10)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        output_size: int,
        activation: str = "relu",
        pool: str = "max",
    ) -> None:
        super().__init__()
        self.input_shape = image_shape("LeNet5", input_shape)
        channels, height, width = self.input_shape
        if min(height, width) < SMALLEST_SIDE:
            raise fail(
                "LeNet5",
                "input_shape",
                f"an image (C, H, W) of at least {SMALLEST_SIDE}x{SMALLEST_SIDE} pixels",
                repr(input_shape),
                hint="Resize the images, or use 'vgg' or 'resnet', which take any size.",
            )
        positive_int("LeNet5", "output_size", output_size)
        activation_layer = ACTIVATIONS[
            one_of("LeNet5", "activation", activation, tuple(ACTIVATIONS))
        ]
        one_of("LeNet5", "pool", pool, POOLS)
        padding = tuple(2 if side < ORIGINAL_SIDE else 0 for side in (height, width))
        rows, columns = (
            feature_side(side, pad) for side, pad in zip((height, width), padding, strict=True)
        )
        self.features = nn.Sequential(
            Conv2d(channels, 6, 5, padding=padding),  # (B, 6, H + 2P - 4, W + 2P - 4)
            activation_layer(),
            Pool2d(pool, 2),
            Conv2d(6, 16, 5),
            activation_layer(),
            Pool2d(pool, 2),  # (B, 16, h, w)
        )
        self.head = nn.Sequential(
            nn.Flatten(),  # (B, 16 * h * w)
            nn.Linear(16 * rows * columns, 120),
            activation_layer(),
            nn.Linear(120, 84),
            activation_layer(),
            nn.Linear(84, output_size),
        )
        self.register_load_state_dict_pre_hook(_rename_weights_saved_before_dense_head)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(fixed_input("LeNet5", x, self.input_shape)))  # (B, O)
