"""The training configuration: one typed, validated object, saved with every run as
``config.yaml`` (with the package versions) and enough to reproduce it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

from convrec.checks import brief
from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.yaml_files import read_yaml_file


class TrainConfig(BaseModel):
    """Everything a run needs. Unknown keys and wrong types are refused, naming the key.

    ``finetune`` names a run directory whose weights, all but the ``head``, start this run
    (transfer learning); ``freeze='backbone'`` then trains the head alone.

    ``gradient_flow_every=N`` records the gradient flow through time of every recurrent layer
    every ``N`` epochs on a fixed validation batch; ``logger='tensorboard'`` also writes the
    history as TensorBoard scalars (``pip install 'convrec[tensorboard]'``).

    ``bucket_by_length`` batches training sequences of similar length, which cuts the padding of
    long-tailed lengths (PLAID: 100 to 1344 steps); see :func:`convrec.train.run.train_loader`
    for how processes share those batches. ``channels_last`` stores the model's 4-D weights
    (2-D convolutions) channels-last, which oneDNN's CPU convolutions run faster (a ResNet on
    Fashion-MNIST steps about 17% faster on two CPU cores) and changes no result beyond
    rounding; :mod:`convrec.train.memory_format` says where it is refused.
    ``batch_size`` is the global batch: with ``devices * num_nodes`` processes each takes an
    equal share, so a distributed run sees the same batches as a single process; its processes
    wait ``rendezvous_timeout`` seconds for each other to start, then give up with a message.

    ``optimizer`` is ``adamw`` (decoupled ``weight_decay``) or ``sgd`` (with ``momentum`` and
    L2 ``weight_decay``). The learning rate changes after every optimizer step
    (:mod:`convrec.train.optim`): a linear warm-up over ``warmup_epochs`` (fractions allowed),
    then ``cosine`` decay to ``lr / 100``, ``constant``, or ``one-cycle`` (Smith & Topin 2019:
    up from ``lr / 25`` over the warm-up, 30% of the steps if none is given, then down to
    ``lr / 25e4``).

    ``tbptt_steps=K`` trains with truncated backpropagation through time
    (:mod:`convrec.train.tbptt`): each batch is cut along time into windows of ``K`` steps, the
    recurrent state carried across them and detached between them, one optimizer step per window
    (so the schedule counts windows). It needs a model with ``advance(inputs, state)`` (e.g.
    ``charlm``), a target per step, and one process. None (the default) backpropagates through
    whole sequences; a ``K`` at least the sequences' length does the same, bit for bit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    model: str
    model_options: dict[str, Any] = Field(default_factory=dict)
    task_options: dict[str, Any] = Field(default_factory=dict)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["cosine", "constant", "one-cycle"] = "cosine"
    warmup_epochs: float = Field(0.0, ge=0, allow_inf_nan=False)
    clip_grad_norm: float | None = Field(1.0, gt=0, allow_inf_nan=False)
    bucket_by_length: bool = False
    channels_last: bool = False
    patience: int | None = Field(None, ge=1)
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    devices: int = Field(1, ge=1)
    num_nodes: int = Field(1, ge=1)
    rendezvous_timeout: float = Field(1800.0, gt=0, allow_inf_nan=False)
    precision: str = "32-true"
    finetune: str | None = None
    freeze: Literal["backbone"] | None = None
    gradient_flow_every: int | None = Field(None, ge=1)
    tbptt_steps: StrictInt | None = Field(None, ge=1)
    logger: Literal["csv", "tensorboard"] = "csv"
    out: str = "runs"

    @model_validator(mode="after")
    def _global_batch_splits_evenly(self) -> TrainConfig:
        processes = self.devices * self.num_nodes
        if self.batch_size % processes:
            raise InvalidValueError(
                f"batch_size {self.batch_size} does not split evenly over {processes} processes "
                f"(devices x num_nodes); choose a multiple of {processes}"
            )
        if self.freeze is not None and self.finetune is None:
            raise InvalidValueError(
                "freeze='backbone' needs finetune: the run directory whose backbone to reuse"
            )
        if self.tbptt_steps is not None and processes > 1:
            raise InvalidValueError(
                f"invalid value for argument `tbptt_steps`: truncated BPTT runs in one process "
                f"(the processes' batches may need different numbers of windows), got "
                f"{processes} processes (devices x num_nodes); set devices=1 and num_nodes=1, "
                "or leave tbptt_steps unset"
            )
        return self


def make_config(**values: Any) -> TrainConfig:
    """Build a :class:`TrainConfig`, turning pydantic's report into one readable ``ValueError``."""
    try:
        return TrainConfig(**values)
    except ValidationError as error:
        problems = "; ".join(
            f"`{'.'.join(map(str, item['loc'])) or 'config'}`: {item['msg']} "
            f"(got {brief(repr(item.get('input')))})"
            + (
                f"; a task's or model's own option goes under task_options.{item['loc'][0]} "
                f"or model_options.{item['loc'][0]}"
                if item["type"] == "extra_forbidden" and len(item["loc"]) == 1
                else ""
            )
            for item in error.errors()
        )
        raise InvalidValueError(f"invalid training configuration: {problems}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (the ``config.yaml`` of a run, or one written by hand) as
    :class:`TrainConfig` keys: a run's record of library ``versions`` left out."""
    values = read_config_mapping(path)
    values.pop("versions", None)
    return values


def read_config_mapping(path: str | Path) -> dict[str, Any]:
    """The YAML config file as written, a run's ``versions`` included."""
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"invalid value for argument `config`: no file at {path}")
    values = read_yaml_file(path) or {}
    if not isinstance(values, dict):
        raise InvalidValueError(
            f"invalid config file {path}: expected a mapping of keys to values, got "
            f"{type(values).__name__}"
        )
    return values


def written_by_a_run(values: Mapping[str, Any]) -> bool:
    """Whether a config file's ``values`` (:func:`read_config_mapping`) are a run's own
    ``config.yaml``, complete and recording the library ``versions``, not one written by hand."""
    return "versions" in values
