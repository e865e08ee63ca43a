"""A small VGG (Simonyan and Zisserman 2015): stages of 3x3 convolutions and 2x2 max pooling."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import positive_int, probability
from convrec.models.arguments import boolean, image_shape, positive_ints
from convrec.models.registry import register
from convrec.nn import GlobalPool, VGGBlock


@register(
    "vgg",
    "Small VGG (Simonyan and Zisserman 2015): 3x3 conv stages, 2x2 max pooling, global average",
    inputs=("image",),
)
class SmallVGG(nn.Module):
    """VGG scaled down for small images, after Simonyan and Zisserman 2015, "Very deep
    convolutional networks for large-scale image recognition" (the notes' VGGNet).

    Each stage is a :class:`convrec.nn.VGGBlock`: ``convs_per_stage`` 3x3 'same' convolutions
    (with batch normalisation, Ioffe and Szegedy 2015, unless turned off) and ReLU, then 2x2 max
    pooling that halves each side. Instead of VGG's three large fully connected layers, global
    average pooling (Lin et al. 2014, "Network in network") turns the last feature maps into one
    vector, so any image size works; dropout (0.5, as in VGG's classifier) and a linear layer
    make the head.

    Args:
        input_shape: ``(C, H, W)``; ``H`` and ``W`` may be ``None`` (sizes that vary).
        output_size: number of classes ``O``.
        widths: output channels of each stage.
        convs_per_stage: convolutions per stage (2 in VGG's first stages).
        batch_norm: batch normalisation after each convolution.
        dropout: drop rate on the pooled features.

    Shape:
        input: ``(B, C, H, W)``, any ``H, W``; output ``(B, O)`` logits.

    Example:
        >>> net = SmallVGG((3, 32, 32), 10, widths=(8, 16))
        >>> net(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: tuple[int, int | None, int | None],
        output_size: int,
        widths: tuple[int, ...] = (16, 32, 64),
        convs_per_stage: int = 2,
        batch_norm: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        channels = image_shape("SmallVGG", input_shape, fixed_size=False)[0]
        positive_int("SmallVGG", "output_size", output_size)
        widths = positive_ints("SmallVGG", "widths", widths)
        positive_int("SmallVGG", "convs_per_stage", convs_per_stage)
        boolean("SmallVGG", "batch_norm", batch_norm)
        stages = []
        for width in widths:
            stages.append(VGGBlock(channels, width, convs_per_stage, 2, batch_norm))
            channels = width
        self.features = nn.Sequential(*stages, GlobalPool("mean"))  # (B, widths[-1])
        self.head = nn.Sequential(
            nn.Dropout(probability("SmallVGG", "dropout", dropout)),
            nn.Linear(channels, output_size),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (B, O)
