"""The package's layout: lower floors never import higher ones, and the light entry points
(``import convrec.nn``, ``convrec --help``, ``convrec tasks``) load nothing they do not need."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import convrec

PACKAGE = Path(convrec.__file__).parent
FLOORS = {
    "errors": 0,
    "checks": 0,
    "files": 0,
    "yaml_files": 1,
    "run_files": 1,
    "plugins": 1,
    "nn": 1,
    "data": 2,
    "diagnose": 2,
    "models": 3,
    "tasks": 3,
    "train": 4,
    "export": 4,
    "serve": 4,
    "cli": 5,
}
"""Each top-level module or package of convrec and its floor; a module may import from its own
floor and below (the package face, ``convrec/__init__.py``, is no floor)."""


def _part(module: str) -> str | None:
    """The top-level part of convrec a dotted module name belongs to."""
    parts = module.split(".")
    return parts[1] if parts[0] == "convrec" and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    """Every convrec module ``path`` imports, at any depth of its code."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    package = ".".join(relative.parts[:-1] if relative.name != "__init__" else relative.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("convrec.")}


def test_every_part_of_the_package_has_a_floor():
    parts = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()}
    parts -= {"__init__", "__pycache__"}
    assert parts == set(FLOORS)


def test_no_part_imports_a_part_on_a_higher_floor():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if here not in FLOORS:  # the package face
            continue
        for name in _imports(path):
            there = _part(name)
            if there in FLOORS and FLOORS[there] > FLOORS[here]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert upward == []


def _loaded_by(statement: str) -> set[str]:
    """Top-level packages outside the standard library that ``statement`` loads beyond what
    ``import torch, numpy`` loads, in a new interpreter."""
    script = (
        "import json, sys\n"
        "import torch, numpy\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "names = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(json.dumps(sorted(names - set(sys.stdlib_module_names))))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(json.loads(output.splitlines()[-1]))


def test_import_convrec_nn_needs_nothing_beyond_torch_and_numpy():
    assert _loaded_by("import convrec.nn") <= {"convrec"}


@pytest.mark.parametrize("statement", ["import convrec.tasks", "import convrec.models"])
def test_the_registries_load_without_the_training_stack(statement):
    heavy = {"lightning", "matplotlib", "torchmetrics", "pydantic", "scipy", "pandas", "rich"}
    assert not _loaded_by(statement) & heavy


def test_the_command_line_help_loads_neither_torch_nor_the_training_stack():
    script = (
        "import sys\n"
        "sys.argv = ['convrec', '--help']\n"
        "from convrec.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({'torch', 'lightning', 'matplotlib'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Usage: convrec" in result.stdout
    assert result.stdout.splitlines()[-1] == "[]"
