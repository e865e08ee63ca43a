"""Shared by the atomic-write tests: where do temporary files go, and where are they renamed?"""

import os
from pathlib import Path


def record_renames(monkeypatch, tmp_path: Path, function: str) -> tuple[list, Path]:
    """Point ``$TMPDIR`` at an empty folder and record ``(source dir, destination dir)`` of every
    call of ``os.<function>`` (``'replace'`` or ``'rename'``); returns the record and the folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("TMPDIR", str(elsewhere))
    monkeypatch.setattr("tempfile.tempdir", None)
    renames = []
    original = getattr(os, function)

    def recording(source, destination):
        renames.append((os.path.dirname(source), os.path.dirname(destination)))
        original(source, destination)

    monkeypatch.setattr(os, function, recording)
    return renames, elsewhere
