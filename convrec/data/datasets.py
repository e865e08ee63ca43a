"""The dataset registry: every application's data by name.

``load_dataset(name, root=None, seed=0, **options)`` returns :class:`~convrec.data.splits.Splits`.
Each dataset reads one fetched source (``convrec data fetch SOURCE``) or, with ``root``, a folder
holding the original files. A loader module registers its datasets beside their loaders with
:func:`register_dataset`, and their sources with
:func:`~convrec.data.sources.register_source`, so that a dataset's origin, files, checks and
loader sit together in one file (``convrec.data`` imports every such module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convrec.checks import keyword_names, known_options, takes_any_keyword, unknown_name
from convrec.data.sources import SOURCES, Source
from convrec.data.splits import Splits
from convrec.errors import InvalidValueError
from convrec.plugins import load_entry_points

SYNTHESISED = "espeak-ng"
"""The source of the speech datasets: synthesised on first use, cached under
``<data dir>/keywords``; ``convrec data fetch espeak-ng`` builds them ahead of time."""
BUILT_BY_LOADER = "(loader)"
"""The source of a dataset whose loader makes or finds its data itself (a plugin's generator,
a path of its own): nothing to fetch."""


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader, the source it reads and a one-line description."""

    name: str
    source: str
    description: str
    loader: Callable[..., Splits]

    def options(self) -> tuple[str, ...] | None:
        """The loader's own keyword options, besides ``root`` and ``seed``; None if it takes any."""
        if takes_any_keyword(self.loader):
            return None
        return keyword_names(self.loader, exclude=("root", "seed"))


DATASETS: dict[str, DatasetEntry] = {}
"""Every registered dataset by name, in the order the loader modules registered them."""


def register_dataset(
    name: str, source: Source | str | None, description: str
) -> Callable[[Callable[..., Splits]], Callable[..., Splits]]:
    """Decorator registering ``loader(root=None, seed=0, **options) -> Splits`` as the dataset
    ``name`` (public: plugins register theirs with it, see :mod:`convrec.plugins`).

    Args:
        name: the dataset's name, unique.
        source: the :class:`Source` it reads (registered with ``register_source``), or
            :data:`SYNTHESISED`, or None when the loader makes or finds its data itself.
        description: one line for ``convrec data list``.
    """
    source_name = source.name if isinstance(source, Source) else source or BUILT_BY_LOADER
    if name in DATASETS:
        raise InvalidValueError(f"dataset {name!r} is registered twice")
    if source_name not in (*SOURCES, SYNTHESISED, BUILT_BY_LOADER):
        raise InvalidValueError(f"dataset {name!r} reads the unregistered source {source_name!r}")

    def add(loader: Callable[..., Splits]) -> Callable[..., Splits]:
        DATASETS[name] = DatasetEntry(name, source_name, description, loader)
        return loader

    return add


def available_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(DATASETS)


def dataset_entry(name: str) -> DatasetEntry:
    """The registry entry of ``name`` (installed plugins are imported the first time a name is
    not known); an unknown name lists the known ones."""
    if name not in DATASETS:
        load_entry_points()
    if name not in DATASETS:
        raise unknown_name("dataset", name, available_datasets())
    return DATASETS[name]


def served_by(source: str) -> list[str]:
    """The datasets that read ``source``."""
    return [dataset for dataset, entry in DATASETS.items() if entry.source == source]


def source_of(name: str) -> str:
    """The source of a dataset name, or the name itself if it names a source."""
    if name in DATASETS:
        return DATASETS[name].source
    if name in SOURCES or name == SYNTHESISED:
        return name
    raise unknown_name("source or dataset", name, sorted({*SOURCES, *DATASETS, SYNTHESISED}))


def load_dataset(
    name: str, root: str | Path | None = None, seed: int = 0, **options: Any
) -> Splits:
    """Train, validation and test splits of the dataset ``name``.

    Args:
        name: see :func:`available_datasets`.
        root: a folder holding the original files, instead of the fetched copy.
        seed: seed of the validation (and, where no official one exists, test) split.
        options: the loader's own options (``max_length``, ``lookback``, ``one_hot``...).
    """
    entry = dataset_entry(name)
    known_options(name, "options", options, entry.options())
    return entry.loader(root=root, seed=seed, **options)
