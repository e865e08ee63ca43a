"""Lightning Fabric from the configuration: accelerator, processes, nodes and precision, with one
clear error when the machine lacks what was asked for."""

from __future__ import annotations

from lightning.fabric import Fabric

from convrec.checks import brief
from convrec.errors import InvalidValueError, UnavailableError
from convrec.train.config import TrainConfig


def make_fabric(config: TrainConfig) -> Fabric:
    """A Fabric for ``config.device``, ``devices``, ``num_nodes`` and ``precision`` (distributed
    data parallel when there is more than one process).

    Raises:
        UnavailableError: the device is not on this machine (``--device cuda`` without a GPU),
            or its support is not installed.
        InvalidValueError: Lightning refuses the device name or the precision.
    """
    try:
        return Fabric(
            accelerator=config.device,
            devices=config.devices,
            num_nodes=config.num_nodes,
            strategy="ddp" if config.devices * config.num_nodes > 1 else "auto",
            precision=config.precision,
        )
    except (RuntimeError, ImportError) as error:  # the accelerator is missing or unsupported
        raise UnavailableError(
            f"invalid value for option `device`: {config.device!r} with {config.devices} "
            f"device(s) cannot run on this machine: {brief(_first_sentence(error))}"
        ) from None
    except ValueError as error:  # a name Lightning does not know
        raise InvalidValueError(
            f"invalid value for option `device` or `precision`: {brief(_first_sentence(error))}"
        ) from None


def _first_sentence(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text.split(". ")[0].rstrip(".") + "."
