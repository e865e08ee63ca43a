"""What a fetched file must be: its exact bytes, or, for arrays a generator computes, its values.

A file taken from a wheel or a Debian package is the same bytes on every machine, so its SHA-256
is recorded. An array a generator computes in floating point is not: the same package version
gives values that differ in their last bits between machines (NumPy and BLAS pick other SIMD
kernels, which sum in another order), so a byte hash would refuse good data. Such an array is
checked by what it means instead:

- :class:`Integers`: integer values (labels) exactly, whatever dtype or byte order they were
  saved with: the SHA-256 of the values as little-endian int64;
- :class:`Floats`: the shape, and a sketch of the values to a tolerance: the sums
  ``S[k, l] = sum_ij r_k(i) x_ij c_l(j)`` over fixed +-1 patterns ``r_k`` of the rows and
  ``c_l`` of the columns, plus ``sum x`` and ``sum x^2``. A last-bit difference moves a sketch
  value by about ``1e-16 sqrt(N)``; a changed value, a swapped row or a shifted column moves it
  by that change, and the tolerance lies far between the two.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convrec.data.store import ChecksumMismatch, sha256

ROW_PATTERNS, COLUMN_PATTERNS = 8, 4
"""+-1 patterns of the rows and of the columns: the sketch holds 8 x 4 such sums (then the sum and
the sum of squares)."""


def verify_file(path: Path, expected: str | Integers | Floats) -> Path:
    """Return ``path`` if it is what ``expected`` records (a SHA-256, or the values of an
    ``.npy`` array); raise :class:`ChecksumMismatch` saying what differs if not."""
    if isinstance(expected, str):
        actual = sha256(path)
        if actual != expected:
            raise ChecksumMismatch(
                f"{path}: SHA-256 is {actual}, expected {expected}. The file is damaged or not "
                "the recorded version; delete it and fetch again."
            )
        return path
    expected.verify(path)
    return path


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ChecksumMismatch(f"{path}: not a readable .npy array ({error})") from None


def _shape_check(path: Path, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise ChecksumMismatch(
            f"{path}: expected an array of shape {shape}, got shape {array.shape}; it is not "
            "the recorded data (another version of its generator?)."
        )


@dataclass(frozen=True)
class Integers:
    """An ``.npy`` file of integers: its shape, and the SHA-256 of its values as little-endian
    int64."""

    shape: tuple[int, ...]
    values_sha256: str

    @classmethod
    def of(cls, array: np.ndarray) -> Integers:
        """The record of ``array`` (integers)."""
        return cls(tuple(array.shape), _integer_digest(array))

    def verify(self, path: Path) -> None:
        array = _load(path)
        _shape_check(path, array, self.shape)
        if array.dtype.kind not in "iu" or _integer_digest(array) != self.values_sha256:
            raise ChecksumMismatch(
                f"{path}: expected the recorded integers (values SHA-256 {self.values_sha256}), "
                f"got other values (dtype {array.dtype}); it is not the recorded data."
            )


def _integer_digest(array: np.ndarray) -> str:
    values = np.ascontiguousarray(array, dtype="<i8")
    return hashlib.sha256(values.tobytes()).hexdigest()


@dataclass(frozen=True)
class Floats:
    """An ``.npy`` file of floating-point values: its shape and its sketch (see the module), to
    ``tolerance`` times the root of the number of values."""

    shape: tuple[int, ...]
    sketch: tuple[float, ...]
    tolerance: float = 1e-9

    @classmethod
    def of(cls, array: np.ndarray) -> Floats:
        """The record of ``array`` (floating point)."""
        return cls(tuple(array.shape), tuple(float(value) for value in sketch(array)))

    def verify(self, path: Path) -> None:
        array = _load(path)
        _shape_check(path, array, self.shape)
        if array.dtype.kind != "f":
            raise ChecksumMismatch(
                f"{path}: expected floating-point values, got dtype {array.dtype}."
            )
        actual = sketch(array)
        allowed = self.tolerance * math.sqrt(max(1, array.size))
        worst = float(np.max(np.abs(actual - np.asarray(self.sketch))))
        if not worst <= allowed:  # also catches NaN
            raise ChecksumMismatch(
                f"{path}: its values differ from the recorded ones by {worst:.3g} in a sketch "
                f"sum (allowed {allowed:.3g}, far above last-bit differences between machines); "
                "it is damaged or not the recorded data (another version of its generator?)."
            )


def sketch(array: np.ndarray) -> np.ndarray:
    """``(ROW_PATTERNS * COLUMN_PATTERNS + 2,)`` float64: the +-1 pattern sums over rows (first
    axis) and columns (the other axes, flattened), then ``sum x`` and ``sum x^2``."""
    values = np.asarray(array, dtype=np.float64)
    matrix = values.reshape(values.shape[0] if values.ndim else 1, -1)
    rows = _signs(matrix.shape[0], ROW_PATTERNS, salt=1)
    columns = _signs(matrix.shape[1], COLUMN_PATTERNS, salt=2)
    sums = rows.T @ matrix @ columns
    return np.concatenate([sums.ravel(), [matrix.sum(), np.square(matrix).sum()]])


def _signs(count: int, patterns: int, salt: int) -> np.ndarray:
    """``(count, patterns)`` of +-1: one bit of the splitmix64 hash of (index, pattern, salt),
    the same on every machine and NumPy version (no random generator involved)."""
    index = np.arange(count, dtype=np.uint64)[:, None]
    pattern = np.arange(patterns, dtype=np.uint64)[None, :]
    mixed = index * np.uint64(0x9E3779B97F4A7C15) + (pattern + np.uint64(salt << 8)) * np.uint64(
        0xD1B54A32D192ED03
    )
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed ^= mixed >> np.uint64(31)
    return np.where(mixed >> np.uint64(63), 1.0, -1.0)
