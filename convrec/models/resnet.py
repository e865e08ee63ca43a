"""A small ResNet (He et al. 2016): 2D over images, 1D over time for sequences."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import positive_int
from convrec.models.arguments import image_or_sequence_shape, positive_ints
from convrec.models.registry import register
from convrec.nn import ConvBNReLU, GlobalPool, Padded, ResidualBlock


@register(
    "resnet",
    "Small ResNet (He et al. 2016): 2D on images, 1D over time on sequences, global average pool",
    inputs=("image", "sequence"),
)
class ResNet(nn.Module):
    """Residual network after He, Zhang, Ren and Sun 2016, "Deep residual learning for image
    recognition", in its small-image form (their CIFAR-10 networks, section 4.2), as the notes
    present it.

    A conv-BN-ReLU stem (one small convolution, without the 7x7 stride-2 convolution and max
    pooling of the ImageNet networks), then one stage per entry of ``widths``, each
    ``blocks_per_stage`` residual blocks (:class:`convrec.nn.ResidualBlock`); every stage after
    the first starts with stride 2, with a projection shortcut (their option B) to match the
    shapes. Global average pooling and a linear head follow. The defaults, two blocks per stage
    of widths 8, 16, 32, make their 6n + 2 layer network with n = 2 (ResNet-14) at half their
    widths, so that an epoch of Fashion-MNIST takes under a minute on two CPU cores; widen them
    for harder data or many input features.

    Images ``(C, H, W)`` get 2D convolutions. Sequences ``(T, F)`` get 1D convolutions over time
    with the ``F`` features as input channels, like the fully convolutional ResNet baseline for
    time-series classification (Wang, Yan and Oates 2017) and temporal-convolution ResNets for
    keyword spotting (Choi et al. 2019). A :class:`Padded` batch keeps its lengths through every
    block and the global average runs over valid steps only, so in evaluation mode a sequence's
    output does not depend on the padding around it.

    The default 3-tap kernels follow VGG and ResNet: two stacked 3-tap convolutions see 5 steps
    with fewer weights than one 5-tap convolution, and the stride-2 stages widen the view fast.
    With the defaults the receptive field before pooling is 53 steps (pixels) wide, more than a
    28x28 image and about half a second of 10 ms audio frames; the global average then covers
    the whole input. For long series, ``kernel_size=7`` widens it to 157 steps.

    Args:
        input_shape: ``(C, H, W)`` for images or ``(T, F)`` for sequences; ``H``, ``W`` and ``T``
            may be ``None`` (sizes that vary).
        output_size: number of classes ``O``.
        widths: channels of each stage.
        blocks_per_stage: residual blocks per stage.
        kernel_size: taps per axis of every convolution but the 1x1 shortcuts.

    Shape:
        input: images ``(B, C, H, W)``, or sequences ``(B, T, F)`` or a :class:`Padded` of them;
        output ``(B, O)`` logits.

    Example:
        >>> net = ResNet((None, 3), 2, widths=(8, 16), blocks_per_stage=1)
        >>> net(Padded(torch.randn(2, 50, 3), [50, 20])).shape
        torch.Size([2, 2])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        widths: tuple[int, ...] = (8, 16, 32),
        blocks_per_stage: int = 2,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        shape = image_or_sequence_shape("ResNet", input_shape)
        self.dims = 2 if len(shape) == 3 else 1
        in_channels = shape[0] if self.dims == 2 else shape[1]
        positive_int("ResNet", "output_size", output_size)
        widths = positive_ints("ResNet", "widths", widths)
        positive_int("ResNet", "blocks_per_stage", blocks_per_stage)
        positive_int("ResNet", "kernel_size", kernel_size)
        layers: list[nn.Module] = [ConvBNReLU(in_channels, widths[0], kernel_size, dims=self.dims)]
        channels = widths[0]
        for stage, width in enumerate(widths):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(ResidualBlock(channels, width, stride, kernel_size, self.dims))
                channels = width
        self.features = nn.Sequential(*layers, GlobalPool("mean"))  # (B, widths[-1])
        self.head = nn.Linear(channels, output_size)

    def forward(self, x: Tensor | Padded) -> Tensor:
        return self.head(self.features(x))  # (B, O)
