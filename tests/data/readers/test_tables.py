import io
import zipfile

import numpy as np
import pytest

from convrec.data.readers import FormatError
from convrec.data.readers.tables import read_sequences_csv, read_sequences_npz


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_csv_groups_rows_by_sequence_id_in_order_of_appearance(tmp_path):
    rng = np.random.default_rng(0)
    sequences = {"b": rng.standard_normal((4, 2)), "a": rng.standard_normal((3, 2))}  # (T, [y, x])
    order = ["b", "a", "b", "b", "a", "b", "a"]  # interleaved: each id's rows in file order
    steps = {name: iter(array.tolist()) for name, array in sequences.items()}
    rows = [(name, *next(steps[name])) for name in order]
    text = "x,sequence_id,y,unused\n" + "".join(f"{x!r},{name},{y!r},z\n" for name, y, x in rows)
    (tmp_path / "paths.csv").write_text(text)
    names, arrays = read_sequences_csv(tmp_path / "paths.csv", ["y", "x"])
    assert names == ["b", "a"]
    for name, array in zip(names, arrays, strict=True):
        assert array.dtype == np.float64
        np.testing.assert_array_equal(array, sequences[name])  # columns in the order asked


def test_csv_missing_columns_are_named():
    with pytest.raises(FormatError, match=r"line 1: .*got a header that lacks stretch_rate, dt\."):
        read_sequences_csv(b"sequence_id,stretch\na,1.0\n", ["stretch", "stretch_rate", "dt"])
    with pytest.raises(FormatError, match=r"lacks sequence_id, x"):
        read_sequences_csv(b"", ["x"])


def test_csv_non_numbers_name_the_line_and_row(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b'sequence_id,x\na,1\na,"two\nlines"\na,three\n')
    with pytest.raises(FormatError, match=r"bad\.csv, line 4: expected numbers in the columns x, "):
        read_sequences_csv(tmp_path / "bad.csv", ["x"])
    with pytest.raises(FormatError, match=r"line 3: .*got \{'sequence_id': 'a', 'x': None\}"):
        read_sequences_csv(b"sequence_id,x\na,1\na\n", ["x"])


def test_npz_round_trip_in_key_order(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"second": rng.standard_normal((5, 3)), "first": np.arange(4, dtype=np.int16)}
    arrays["fortran"] = np.asfortranarray(rng.standard_normal((3, 2)).astype(">f4"))
    (tmp_path / "paths.npz").write_bytes(npz_bytes(**arrays))
    names, read = read_sequences_npz(tmp_path / "paths.npz")
    assert names == ["second", "first", "fortran"]
    np.testing.assert_array_equal(read[0], arrays["second"])
    np.testing.assert_array_equal(read[1], arrays["first"][:, None])  # (T,) -> (T, 1)
    np.testing.assert_array_equal(read[2], arrays["fortran"])
    assert all(array.dtype == np.float64 and array.ndim == 2 for array in read)


def test_npz_nan_only_when_allowed():
    data = npz_bytes(a=np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(FormatError, match=r"array 'a'\[0, 1\]: expected finite values, got nan"):
        read_sequences_npz(data)
    assert np.isnan(read_sequences_npz(data, allow_nan=True)[1][0][0, 1])
    with pytest.raises(FormatError, match=r"array 'b'\[1, 0\]: expected finite values or NaN, got"):
        read_sequences_npz(npz_bytes(b=np.array([0.0, -np.inf])), allow_nan=True)


def zip_of(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (npy(np.ones(3)), r"<bytes>, byte 0: expected a \.npz archive \(a zip file, 'PK'\)"),
        (b"PK\x03\x04" + bytes(30), r"byte 0: expected a readable zip archive"),
        (zip_of(**{"notes.txt": b"hi"}), r"member 'notes.txt': expected one '<key>.npy' member"),
        (zip_of(**{"a.npy": b"not an array"}), r"member 'a.npy': expected a readable \.npy array"),
        (zip_of(**{"a.npy": npy(np.array(["x"]))}), r"expected an integer or floating-point array"),
        (zip_of(**{"a.npy": npy(np.array([True]))}), r"integer or floating-point array, got bool"),
        (zip_of(**{"a.npy": npy(np.ones(4))[:-8]}), r"expected 32 bytes of data .*, got 24"),
        (
            zip_of(**{"a.npy": npy(np.ones(()))}),
            r"array 'a': expected a 1-D \(T,\) or 2-D \(T, F\)",
        ),
        (zip_of(**{"a.npy": npy(np.ones((1, 2, 3)))}), r"got shape \(1, 2, 3\)"),
    ],
)
def test_malformed_npz_raises_format_error_naming_the_member(data, match):
    with pytest.raises(FormatError, match=match):
        read_sequences_npz(data)


def test_npz_duplicate_keys_are_refused():
    buffer = io.BytesIO(zip_of(**{"a.npy": npy(np.ones(2))}))
    with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("a.npy", npy(np.zeros(2)))
    with pytest.raises(FormatError, match=r"member 'a.npy': .* per key, got a duplicate\."):
        read_sequences_npz(buffer.getvalue())


def test_npz_needing_a_newer_zip_version_is_refused():
    data = bytearray(npz_bytes(a=np.ones(2)))
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 99  # "version needed to extract": 9.9
    with pytest.raises(FormatError, match=r"byte 0: expected a readable zip archive, got zip file"):
        read_sequences_npz(bytes(data))


def test_npz_object_arrays_are_refused_unread():
    data = zip_of(**{"a.npy": npy(np.array([{"x": 1}], dtype=object))})
    with pytest.raises(FormatError, match=r"member 'a.npy': expected an integer or floating-point"):
        read_sequences_npz(data)


def test_npz_absurd_shapes_are_refused_before_allocating():
    header = npy(np.ones(2))
    forged = header.replace(b"'shape': (2,)", b"'shape': (99999999999999,)")[: len(header)]
    with pytest.raises(FormatError, match=r"expected 799999999999992 bytes of data"):
        read_sequences_npz(zip_of(**{"a.npy": forged}))
