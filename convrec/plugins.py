"""Plugins: your own datasets, tasks and models, found by every command.

A plugin is a Python module whose import registers what it defines, with the public decorators
``convrec.data.register_dataset`` (and ``register_source``), ``convrec.tasks.register_task`` and
``convrec.models.register_model``. convrec imports plugins from two places:

- installed packages that declare an entry point in the group ``convrec.plugins``, e.g. in their
  ``pyproject.toml``::

      [project.entry-points."convrec.plugins"]
      my_plugin = "my_package.convrec_plugin"

  These are imported the first time a registry is asked for a name it does not know, so
  ``convrec train my-task``, ``convrec predict RUN`` and ``convrec.load(RUN)`` of a run of a
  plugin's task work with nothing else to do;
- modules named on the command line, ``convrec --import my_module COMMAND ...`` (repeatable),
  or imported by a Python program before it calls convrec.

A run directory never names code to import: a run of an unknown task or model is refused with a
message saying how to provide it, since a run directory is untrusted input.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

from convrec.checks import brief
from convrec.errors import InvalidValueError, UnavailableError

GROUP = "convrec.plugins"
"""The entry-point group of installed plugins."""

_loaded_entry_points = False


def load_entry_points() -> list[str]:
    """Import every installed plugin (entry points of :data:`GROUP`), once per process; returns
    the modules imported this time.

    Raises:
        UnavailableError: a plugin fails to import; the message names its package.
    """
    global _loaded_entry_points
    if _loaded_entry_points:
        return []
    _loaded_entry_points = True
    imported = []
    for point in importlib.metadata.entry_points(group=GROUP):
        try:
            point.load()
        except Exception as error:
            package = point.dist.name if point.dist is not None else "an installed package"
            raise UnavailableError(
                f"the convrec plugin {point.name!r} of {package} ({point.value}) failed to "
                f"import: {type(error).__name__}: {brief(error)}"
            ) from error
        imported.append(point.value)
    return imported


def import_modules(names: list[str]) -> None:
    """Import the plugin modules ``names`` (``--import``); the current folder is searched too,
    as ``python -m`` would.

    Raises:
        InvalidValueError: a module cannot be found.
    """
    if "" not in sys.path:
        sys.path.insert(0, "")
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name and not name.startswith(f"{error.name}."):
                raise
            raise InvalidValueError(
                f"invalid value for option `--import`: no module {name!r} on the Python path "
                "(run convrec from the folder that holds it, or install its package)"
            ) from None
