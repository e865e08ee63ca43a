"""The Triton scans' tests (``triton_cases.py``), in a fresh process under Triton's interpreter."""

import os
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).with_name("triton_cases.py")


def test_the_triton_scans_equal_the_reference_loop_under_the_interpreter():
    environment = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "10 passed in" in result.stdout
