"""Files sorted by class into subfolders, ``root/<class>/<file>``: how a user brings their own
images, audio clips and text documents; and unlabelled files (one, or a folder of them) to
predict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from convrec.data.splits import natural_key
from convrec.errors import InvalidValueError, PathNotFoundError


@dataclass(frozen=True)
class FileKind:
    """Which files a folder's reader takes: ``what`` names them in messages."""

    what: str
    suffixes: tuple[str, ...]

    def accepts(self, path: Path) -> bool:
        """A visible file with one of the suffixes (any case)."""
        return (
            path.is_file()
            and path.suffix.lower() in self.suffixes
            and not path.name.startswith(".")
        )


@dataclass
class ClassFolder:
    """The files of a folder.

    Attributes:
        files: every file, classes in natural order, files sorted within each.
        labels: each file's class (its subfolder's name), or None for unlabelled files.
        root: the folder (or file) given, for messages and relative names.
    """

    files: list[Path]
    labels: list[str] | None
    root: Path

    def names(self) -> list[str]:
        """Each file's path relative to the root, the ids of predictions."""
        if self.root.is_file():
            return [self.root.name]
        return [str(path.relative_to(self.root)) for path in self.files]


def list_class_folder(root: str | Path, kind: FileKind, labelled: bool = True) -> ClassFolder:
    """The files of ``kind`` under ``root``: ``root/<class>/*`` when ``labelled`` (classes in
    natural order: ``2`` before ``10``); else ``root`` itself (one file) or every such file under
    it, in any subfolder.

    Raises:
        PathNotFoundError: ``root`` does not exist.
        InvalidValueError: no such file in it, files outside class folders, or a class folder
            without any (when ``labelled``).
    """
    root = Path(root)
    what, suffixes = kind.what, ", ".join(kind.suffixes)
    if not root.exists():
        raise PathNotFoundError(f"{root}: no such file or folder")
    if not labelled:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if kind.accepts(p))
        if not files or not kind.accepts(files[0]):
            raise InvalidValueError(f"{root}: expected {what} ({suffixes}), found none")
        return ClassFolder(files, None, root)
    if not root.is_dir():
        raise InvalidValueError(
            f"{root}: expected a folder with one subfolder of {what} per class, got a file"
        )
    loose = sorted(path.name for path in root.iterdir() if kind.accepts(path))
    if loose:
        raise InvalidValueError(
            f"{root}: expected {what} inside class subfolders, got {what} directly in the folder "
            f"({', '.join(loose[:3])}); move each into the folder named by its class"
        )
    files, labels = [], []
    for folder in sorted(
        (path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")),
        key=lambda path: natural_key(path.name),
    ):
        found = sorted(path for path in folder.iterdir() if kind.accepts(path))
        if not found:
            raise InvalidValueError(
                f"{folder}: expected {what} of class {folder.name!r} ({suffixes}), found none; "
                "remove the folder or add some"
            )
        files += found
        labels += [folder.name] * len(found)
    if not files:
        raise InvalidValueError(
            f"{root}: expected one subfolder of {what} per class, found no class folder"
        )
    return ClassFolder(files, labels, root)
