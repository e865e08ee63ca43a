"""Loading the scripts of ``benchmarks/``, which is a folder of scripts, not a package."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module. Its top-level imports of sibling scripts resolve as
    when it runs from that folder; imports inside its functions do not, so a test puts what they
    import into ``sys.modules`` itself."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.path.insert(0, str(BENCHMARKS))
    sys.modules[name] = module  # dataclasses look their module up there while they are made
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
    return module
