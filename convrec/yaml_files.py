"""Reading YAML that a user or a run directory supplies: safe, without aliases, errors in one line.

``yaml.safe_load`` already refuses tags that build Python objects, but it expands aliases: a few
hundred bytes of nested ``&a [*b, *b, ...]`` (a "billion laughs") unfold into gigabytes. A
configuration never needs an alias, so they are refused outright, as is a file larger than
:data:`MAX_BYTES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent

from convrec.checks import brief
from convrec.errors import InvalidValueError, PathNotFoundError

MAX_BYTES = 1 << 20
"""The largest YAML file read (1 MiB); a configuration is a few hundred bytes."""


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (``*name``) before expanding any."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"found the alias *{event.anchor}; aliases are not allowed",
                event.start_mark,
            )
        return Composer.compose_node(self, parent, index)


def read_yaml_text(text: str, where: str) -> Any:
    """The value of the YAML ``text``; ``where`` names its origin in the error.

    Raises:
        InvalidValueError: the text is not YAML, holds an alias or a Python tag, or nests too
            deep to read.
    """
    loader = None
    try:
        loader = _NoAliasLoader(text)  # its reader refuses control characters already
        return loader.get_single_data()
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise InvalidValueError(f"{where}: expected plain YAML, got {brief(reason)}") from None
    except RecursionError:
        raise InvalidValueError(f"{where}: expected YAML, got values nested too deep") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml_file(path: str | Path) -> Any:
    """The value of the YAML file at ``path`` (see :func:`read_yaml_text`).

    Raises:
        PathNotFoundError: no file at ``path``.
        InvalidValueError: larger than :data:`MAX_BYTES`, not UTF-8 or not plain YAML.
    """
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InvalidValueError(
            f"{path}: expected a YAML file of at most {MAX_BYTES} bytes, got {size} bytes"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidValueError(f"{path}: expected UTF-8 text, got {error.reason}") from None
    return read_yaml_text(text, str(path))
