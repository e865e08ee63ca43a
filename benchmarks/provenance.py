"""What every benchmark prints with its table: the code revision it measured."""

from __future__ import annotations

import subprocess
from pathlib import Path


def revision(checkout: Path = Path(__file__).parent) -> str:
    """The short git hash of ``checkout`` (default: the one this file is in), with ``+changes``
    when tracked files differ from it; ``unknown`` outside git."""
    try:
        commit = _git(checkout, "rev-parse", "--short", "HEAD")
        changed = _git(
            checkout, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def _git(checkout: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()
