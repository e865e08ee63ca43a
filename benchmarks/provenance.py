"""What every benchmark prints with its table: the code revision it measured."""

from __future__ import annotations

import subprocess


def revision() -> str:
    """The short git hash of the checkout, or ``unknown`` outside git."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
