"""What every benchmark prints with its table: the code revision it measured."""

from __future__ import annotations

import subprocess


def revision() -> str:
    """The short git hash of the checkout, with ``+changes`` when tracked files differ from it;
    ``unknown`` outside git."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], capture_output=True, text=True, check=True
    ).stdout.strip()
