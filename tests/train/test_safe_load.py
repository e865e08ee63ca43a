"""Serialization security: a crafted checkpoint is refused through every path that reads one,
naming the offending global, and its payload never runs; ``torch.load`` runs once, weights only;
a torch with a known weights-only bypass is warned about; nothing in convrec deserialises
unsafely."""

import ast
import builtins
import io
import os
import pickle
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

import convrec
from convrec.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_model_weights,
    read_checkpoint,
    save_checkpoint,
)
from convrec.train.safe_load import UnsafeCheckpointError, VulnerableTorchWarning
from convrec.train.storage import commit
from tests.train.checkpoint_checks import make_loop


class Reduce:
    """Unpickles as ``function(*arguments)``; ``function`` may itself be a :class:`Reduce`."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments

    def __call__(self, *arguments):  # pickle requires the function of a reduction be callable
        raise AssertionError("a gadget is only ever pickled")


def zip_file(value, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def raw_pickle(value) -> bytes:
    return pickle.dumps(value, protocol=2)


def checkpoint_with(**parts) -> dict:
    """A checkpoint-shaped dict with ``parts`` replacing some of its entries."""
    return {"model": {}, "optimizer": {}, "scheduler": {}, "fit": {}, "rng": {}} | parts


def gadgets(sentinel: Path) -> dict[str, tuple[bytes, str]]:
    """Files whose unpickling would create ``sentinel``, each with a pattern for the global it
    names (pickle protocol 2, which torch.save uses, writes some under their Python 2 names:
    ``__builtin__.exec``, ``commands.Popen``)."""
    touch = f"touch {shlex.quote(str(sentinel))}"
    create = f"open({str(sentinel)!r}, 'w').close()"
    system = Reduce(os.system, touch)
    popen = Reduce(subprocess.Popen, ["touch", str(sentinel)])
    chain = Reduce(Reduce(getattr, Reduce(builtins.__import__, "os"), "system"), touch)
    nested = Reduce(pickle.loads, raw_pickle(system))
    exp_avg = {"state": {0: {"exp_avg": Reduce(builtins.exec, create)}}, "param_groups": []}
    history = {"history": [Reduce(builtins.eval, create)]}
    names = {
        "system": rf"{os.system.__module__}\.system",
        "popen": r"(subprocess|commands)\.Popen",
        "exec": r"(builtins|__builtin__)\.exec",
        "eval": r"(builtins|__builtin__)\.eval",
    }
    return {
        "raw-os.system": (raw_pickle(checkpoint_with(model=system)), names["system"]),
        "raw-subprocess.Popen": (raw_pickle(popen), names["popen"]),
        "raw-builtins.exec": (raw_pickle(Reduce(builtins.exec, create)), names["exec"]),
        "raw-builtins.eval": (raw_pickle(Reduce(builtins.eval, create)), names["eval"]),
        "zip-os.system-in-model": (zip_file(checkpoint_with(model={"w": system})), names["system"]),
        "zip-exec-in-optimizer-state": (
            zip_file(checkpoint_with(optimizer=exp_avg)),
            names["exec"],
        ),
        "zip-getattr-chain-in-rng": (zip_file(checkpoint_with(rng=chain)), r"builtins\.getattr"),
        "zip-Popen-in-scheduler": (zip_file(checkpoint_with(scheduler=popen)), names["popen"]),
        "zip-eval-in-history": (zip_file(checkpoint_with(fit=history)), names["eval"]),
        "zip-nested-pickle": (zip_file(checkpoint_with(model=nested)), r"_?pickle\.loads"),
        "zip-whole-object": (zip_file(system), names["system"]),
        "legacy-torch-format": (
            zip_file(checkpoint_with(model=system), legacy=True),
            "not a torch.save zip archive",
        ),
    }


def unpickle_unsafely(name: str, data: bytes) -> None:
    """What a careless loader would do with gadget ``name``; waits for any process the payload
    started."""
    if name.startswith("raw"):
        loaded = pickle.loads(data)
    else:
        loaded = torch.load(io.BytesIO(data), weights_only=False)
    values = [loaded]
    while values:
        value = values.pop()
        if isinstance(value, subprocess.Popen):
            value.wait()
        elif isinstance(value, dict):
            values.extend(value.values())
        elif isinstance(value, list | tuple):
            values.extend(value)


GADGET_NAMES = sorted(gadgets(Path("sentinel")))


@pytest.mark.parametrize("name", GADGET_NAMES)
def test_a_crafted_checkpoint_is_refused_by_every_loader_and_its_payload_never_runs(tmp_path, name):
    proof = tmp_path / "proof"
    unpickle_unsafely(name, gadgets(proof)[name][0])
    assert proof.exists(), "the gadget is live: unpickled unsafely, it runs its payload"

    sentinel = tmp_path / "pwned"
    data, named = gadgets(sentinel)[name]
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = {"task": "maxwell", "model": "gru", "task_options": {"train_size": 8}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    save_checkpoint(make_loop(), run / "checkpoints" / "epoch-0001")  # a good, older one
    folder = commit(run / "checkpoints" / "epoch-0002", {"state.pt": data})
    loaders = {
        "read_checkpoint": lambda: read_checkpoint(folder),
        "load_checkpoint": lambda: load_checkpoint(make_loop(), folder),
        "load_model_weights": lambda: load_model_weights(nn.Linear(3, 2), folder),
        "latest_checkpoint": lambda: latest_checkpoint(run / "checkpoints"),
        "train(resume=...)": lambda: convrec.train("maxwell", resume=run, progress=False),
    }
    for loader, load in loaders.items():
        with pytest.raises(UnsafeCheckpointError, match=named):
            load()
        assert not sentinel.exists(), f"{loader} ran the payload"


def test_torch_load_runs_once_with_weights_only_and_a_refusal_is_never_retried(
    tmp_path, monkeypatch
):
    folder = save_checkpoint(make_loop(), tmp_path / "epoch-0001")
    calls = []
    load = torch.load

    def recording_load(*arguments, **options):
        calls.append(options)
        return load(*arguments, **options)

    monkeypatch.setattr(torch, "load", recording_load)
    read_checkpoint(folder)
    assert [call["weights_only"] for call in calls] == [True]

    def refusing_load(*arguments, **options):
        calls.append(options)
        raise pickle.UnpicklingError(
            "Weights only load failed.\n\nUnsupported global: GLOBAL x.y was not an allowed "
            "global by default.\n\nCheck the documentation of torch.load."
        )

    calls.clear()
    monkeypatch.setattr(torch, "load", refusing_load)
    with pytest.raises(
        UnsafeCheckpointError,
        match=r"refused by weights-only loading \(Unsupported global: GLOBAL x\.y was not",
    ):
        read_checkpoint(folder)
    assert [call["weights_only"] for call in calls] == [True]


@pytest.mark.parametrize("version", ["2.9.1+cu128", "2.10.0a0+git1234", "2.4.0"])
def test_loading_a_checkpoint_with_a_torch_that_has_the_weights_only_bypass_warns(
    tmp_path, monkeypatch, version
):
    """SEC-6: torch before 2.10 has CVE-2026-24747; from 2.10 on, loading is silent (warnings
    are errors in this suite)."""
    folder = save_checkpoint(make_loop(), tmp_path / "epoch-0001")
    monkeypatch.setattr(torch, "__version__", version)
    with pytest.warns(
        VulnerableTorchWarning,
        match=rf"torch {re.escape(version)} has a known bypass of weights-only unpickling "
        r"\(CVE-2026-24747, fixed in torch 2\.10\).*pip install 'torch>=2\.10'",
    ):
        read_checkpoint(folder)
    for safe in ("2.10.0", "2.13.0+cpu", "3.0.0"):
        monkeypatch.setattr(torch, "__version__", safe)
        read_checkpoint(folder)


def unsafe_deserialisation(source: str) -> list[str]:
    """Each call in ``source`` that could unpickle code: ``torch.load`` without
    ``weights_only=True``, ``pickle.load(s)``, ``numpy.load(allow_pickle=True)``, ``yaml.load``,
    ``marshal`` or ``pandas.read_pickle``, an import of ``torch.package``, and an ``Unpickler``
    subclass without a ``find_class`` allowlist."""

    def true(node) -> bool:
        return isinstance(node, ast.Constant) and node.value is True

    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            call, options = f"{owner}.{node.func.attr}", {k.arg: k.value for k in node.keywords}
            if (
                (call == "torch.load" and not true(options.get("weights_only")))
                or call in ("pickle.load", "pickle.loads", "marshal.load", "marshal.loads")
                or call in ("yaml.load", "yaml.unsafe_load", "yaml.full_load")
                or node.func.attr == "read_pickle"
                or (call in ("np.load", "numpy.load") and true(options.get("allow_pickle")))
            ):
                found.append(f"line {line}: {call}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            module = getattr(node, "module", None) or ""
            names = [alias.name for alias in node.names]
            if "torch.package" in (module, *names) or (
                module in ("pickle", "marshal", "dill") and {"load", "loads"} & set(names)
            ):
                found.append(f"line {line}: import from {module or names}")
        elif isinstance(node, ast.ClassDef) and any(
            ast.unparse(base).endswith("Unpickler") for base in node.bases
        ):
            methods = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            if "find_class" not in methods:
                found.append(f"line {line}: {node.name} has no find_class allowlist")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "torch.load(path)",
        "torch.load(path, weights_only=False)",
        "pickle.loads(data)",
        "numpy.load(path, allow_pickle=True)",
        "yaml.load(text, Loader=yaml.Loader)",
        "frame = pandas.read_pickle(path)",
        "import torch.package",
        "from pickle import loads",
        "class Loose(pickle.Unpickler):\n    pass",
    ],
)
def test_the_scan_finds_each_unsafe_deserialisation(source):
    assert len(unsafe_deserialisation(source)) == 1


def test_nothing_in_convrec_deserialises_unsafely():
    package = Path(convrec.__file__).parent
    found = {
        str(path.relative_to(package)): problems
        for path in sorted(package.rglob("*.py"))
        if (problems := unsafe_deserialisation(path.read_text()))
    }
    assert found == {}
