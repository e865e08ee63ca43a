"""Model zoo: one file per family, built by name through the registry."""

from convrec.models import recurrent
from convrec.models.recurrent import RecurrentNet
from convrec.models.registry import ModelEntry, available, create, entry, register

__all__ = ["ModelEntry", "RecurrentNet", "available", "create", "entry", "recurrent", "register"]
