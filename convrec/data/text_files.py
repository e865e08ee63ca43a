"""A user's texts from their own files: a CSV or TSV table, or class folders of ``.txt`` files.

- ``.csv`` / ``.tsv``: one document per row, a text column and a label column. The label column
  is ``label`` unless named; the text column is the one named, else the one column (besides the
  label and an ``id`` column) holding text rather than numbers. An ``id`` column, if present,
  names the documents in predictions; otherwise they are numbered from 0.
- a folder: ``folder/<class>/<document>.txt``, one document per file, the class the subfolder's
  name; other files (a ``README.md``, a ``.DS_Store``) are left out.

For prediction, labels are not needed, and a ``.txt`` file holds one document per line (blank
lines skipped, each document named by its line number); a folder may hold ``.txt`` files at any
depth (each named by its path in the folder).

Everything must be UTF-8 (a byte-order mark is dropped); a document must hold some text, a
labelled one a label. Anything else is a :class:`~convrec.data.readers.FormatError` naming the
file, the line or column, what was expected and what came.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from convrec.data.class_folders import FileKind, list_class_folder
from convrec.data.readers import FormatError
from convrec.data.readers.source import read_text
from convrec.errors import InvalidValueError, PathNotFoundError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
DOCUMENT_SUFFIX = ".txt"
DOCUMENTS = FileKind(".txt documents", (DOCUMENT_SUFFIX,))
ID_COLUMN = "id"


@dataclass
class TextTable:
    """Documents read from one file or folder.

    Attributes:
        ids: one name per document (its id, row number, line number or file path).
        texts: each document's text.
        labels: each document's label (class name), or None when unlabelled.
        text_column: the table column the texts came from (None for ``.txt`` files).
        source: the file or folder, for messages.
    """

    ids: list[str]
    texts: list[str]
    labels: list[str] | None
    text_column: str | None
    source: str


def read_texts(
    path: str | Path,
    *,
    text_column: str | None = None,
    label_column: str = "label",
    labelled: bool = True,
) -> TextTable:
    """Read the documents of a table, a ``.txt`` file or a folder (see the module).

    Args:
        path: a ``.csv`` or ``.tsv`` file, a folder, or (unlabelled only) a ``.txt`` file.
        text_column: the table column holding the texts (default: inferred, see the module).
        label_column: the table column holding the labels.
        labelled: whether labels are required (training and evaluation); for prediction they
            are not read.

    Raises:
        PathNotFoundError: nothing at ``path``.
        InvalidValueError: a file of another kind, an empty folder, documents outside class
            folders, a class folder without documents.
        FormatError: anything malformed: bytes that are not UTF-8, a missing or ambiguous
            column, an empty text or label.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.csv").write_text("label,review\\ngood,Lovely tea.\\nbad,Stale.\\n")
        >>> table = read_texts(folder / "a.csv")
        >>> table.texts, table.labels, table.text_column
        (['Lovely tea.', 'Stale.'], ['good', 'bad'], 'review')
    """
    path = Path(path)
    if not path.exists():
        raise PathNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return _from_folder(path, labelled)
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return _from_table(path, TABLE_SUFFIXES[suffix], text_column, label_column, labelled)
    if suffix == DOCUMENT_SUFFIX and not labelled:
        return _from_lines(path)
    if labelled:
        expected = "labelled texts in a .csv or .tsv file or a folder of class folders of .txt"
        hint = (
            "; a .txt file holds unlabelled documents, for prediction" if suffix == ".txt" else ""
        )
    else:
        expected = "texts in a .txt file (one document per line), a .csv or .tsv file or a folder"
        hint = ""
    raise InvalidValueError(
        f"{path}: expected {expected}, got the suffix {path.suffix or '(none)'!r}{hint}"
    )


def _from_table(
    path: Path, delimiter: str, text_column: str | None, label_column: str, labelled: bool
) -> TextTable:
    text, name = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []  # (line where the row starts, cells)
    try:
        start = 1
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise FormatError(name, f"line {reader.line_num}", "CSV rows", f"{error}") from None
    if not rows:
        raise FormatError(name, "line 1", "a header line", "an empty file")
    header = [column.strip() for column in rows[0][1]]
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise FormatError(name, "line 1", "each column name once", f"{', '.join(repeated)} twice")
    body = [(line, row) for line, row in rows[1:] if any(cell.strip() for cell in row)]
    if not body:
        raise FormatError(name, "line 2", "at least one document after the header", "none")
    for line, row in body:
        if len(row) != len(header):
            raise FormatError(name, f"line {line}", f"{len(header)} cells", len(row))
    if labelled and label_column not in header:
        raise FormatError(
            name,
            "line 1",
            f"a label column {label_column!r} (or name yours with label_column)",
            f"the columns {', '.join(header)}",
        )
    column = text_column or _text_column(name, header, body, label_column)
    if column not in header:
        raise FormatError(
            name, "line 1", f"the text column {column!r}", f"the columns {', '.join(header)}"
        )
    at = header.index(column)
    texts = []
    for line, row in body:
        if not row[at].strip():
            raise FormatError(name, f"line {line}, column {column!r}", "a text", "an empty cell")
        texts.append(row[at])
    labels = None
    if labelled:
        label_at = header.index(label_column)
        labels = [row[label_at].strip() for _, row in body]
        if "" in labels:
            line = body[labels.index("")][0]
            raise FormatError(
                name, f"line {line}, column {label_column!r}", "a label", "an empty cell"
            )
    ids = (
        [row[header.index(ID_COLUMN)].strip() for _, row in body]
        if ID_COLUMN in header and column != ID_COLUMN
        else [str(index) for index in range(len(body))]
    )
    return TextTable(ids, texts, labels, column, name)


def _text_column(
    name: str, header: list[str], body: list[tuple[int, list[str]]], label_column: str
) -> str:
    """The one column, besides the label and ``id``, holding text rather than numbers."""
    others = [column for column in header if column not in (label_column, ID_COLUMN)]
    textual = [
        column
        for column in others
        if not all(_is_number(row[header.index(column)]) for _, row in body)
    ]
    if len(textual) == 1:
        return textual[0]
    found = f"the text columns {', '.join(textual)}" if textual else "no column of text"
    raise FormatError(
        name,
        "line 1",
        f"one column of text besides the label {label_column!r} (name it with text_column)",
        f"{found} among {', '.join(header)}",
    )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return not cell.strip()  # an empty cell says nothing
    return True


def _document(path: Path) -> str:
    """The text of one ``.txt`` document."""
    text, name = read_text(path)
    if not text.strip():
        raise FormatError(name, "line 1", "a text", "an empty file")
    return text


def _from_folder(root: Path, labelled: bool) -> TextTable:
    folder = list_class_folder(root, DOCUMENTS, labelled)
    texts = [_document(path) for path in folder.files]
    return TextTable(folder.names(), texts, folder.labels, None, str(root))


def _from_lines(path: Path) -> TextTable:
    text, name = read_text(path)
    numbered = [
        (str(number), line) for number, line in enumerate(text.splitlines(), 1) if line.strip()
    ]
    if not numbered:
        raise FormatError(name, "line 1", "one document per line", "an empty file")
    ids, texts = (list(part) for part in zip(*numbered, strict=True))
    return TextTable(ids, texts, None, None, name)
