"""Lightning Fabric from the configuration: accelerator, processes, nodes and precision, with one
clear error when the machine lacks what was asked for."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import torch
import torch.distributed
from lightning.fabric import Fabric
from lightning.fabric.strategies import DDPStrategy

from convrec.checks import brief
from convrec.errors import InvalidValueError, UnavailableError
from convrec.train.config import TrainConfig


def make_fabric(config: TrainConfig) -> Fabric:
    """A Fabric for ``config.device``, ``devices``, ``num_nodes`` and ``precision`` (distributed
    data parallel when there is more than one process).

    Raises:
        UnavailableError: the device is not on this machine (``--device cuda`` without a GPU),
            or its support is not installed.
        InvalidValueError: Lightning refuses the device name or the precision, or float16 is
            asked for on the CPU (where Lightning would silently train in bfloat16 instead,
            while ``config.yaml`` said float16).
    """
    if config.precision in ("16-mixed", "16-true", "16") and _runs_on_cpu(config.device):
        raise InvalidValueError(
            f"invalid value for option `precision`: {config.precision!r} needs a CUDA GPU, and "
            "this run is on the CPU; use 'bf16-mixed' (or '32-true')"
        )
    distributed = config.devices * config.num_nodes > 1
    try:
        return Fabric(
            accelerator=config.device,
            devices=config.devices,
            num_nodes=config.num_nodes,
            strategy=(
                DDPStrategy(timeout=timedelta(seconds=config.rendezvous_timeout))
                if distributed
                else "auto"
            ),
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


def launch(fabric: Fabric, config: TrainConfig) -> None:
    """Start the run's processes (``fabric.launch``). With several machines, say first what this
    one waits for, where and how long, and turn a timeout into one clear error.

    Raises:
        UnavailableError: the other machines did not join within ``rendezvous_timeout``.
    """
    address = os.environ.get("MASTER_ADDR", "127.0.0.1")
    port = os.environ.get("MASTER_PORT", "(Lightning's default)")
    if config.num_nodes > 1:
        print(
            f"convrec: waiting up to {config.rendezvous_timeout:g} s for "
            f"{config.num_nodes} machines ({config.num_nodes * config.devices} processes) to "
            f"meet at {address}:{port}, as node {os.environ.get('NODE_RANK', '0')}; start the "
            "same command on every machine with MASTER_ADDR, MASTER_PORT and NODE_RANK set",
            file=sys.stderr,
            flush=True,
        )
    try:
        fabric.launch()
    except torch.distributed.DistError as error:
        raise UnavailableError(
            f"the processes of this run did not all start within {config.rendezvous_timeout:g} s "
            f"at {address}:{port} ({brief(_first_sentence(error))}); start the same command on "
            "every machine, or wait longer with --set rendezvous_timeout=SECONDS"
        ) from None


def _runs_on_cpu(device: str) -> bool:
    """Whether ``device`` (``auto`` resolved as Lightning does) is the CPU."""
    if device == "auto":
        return not torch.cuda.is_available() and not torch.backends.mps.is_available()
    return device == "cpu"


def _first_sentence(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text.split(". ")[0].rstrip(".") + "."
