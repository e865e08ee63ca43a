"""A run directory is untrusted input, a run is locked, every failure is one clear line.

One test (or a few) per finding of the adversarial pass over the command line; each failed
before the fix. The command-line rows run ``convrec.cli.main`` as a user would.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import convrec
from convrec.cli import main
from convrec.data.readers import read_fasta
from convrec.errors import UserError, WriteError
from convrec.files import write_npz, write_text
from convrec.run_files import UnsafeRunFileError
from convrec.train import storage
from convrec.train.checkpoint import IncompatibleCheckpointError, latest_checkpoint
from convrec.train.config import make_config
from convrec.train.rundir import RunLockedError, new_run_directory, run_lock

TINY = {
    "train_size": 8,
    "validation_size": 4,
    "test_size": 2,
    "segments": 2,
    "steps_per_segment": 5,
}


def tiny_run(out: Path, **options):
    return convrec.train(
        "maxwell",
        batch_size=4,
        progress=False,
        out=str(out),
        model_options={"hidden_size": 4},
        task_options=TINY,
        **{"epochs": 2} | options,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-epoch run; tests copy it before changing anything."""
    return tiny_run(tmp_path_factory.mktemp("runs")).directory


@pytest.fixture
def run(finished, tmp_path):
    return Path(shutil.copytree(finished, tmp_path / "run"))


def command(*arguments: str) -> tuple[int, str]:
    """``convrec ARGUMENTS`` through ``main``: the exit status and everything printed."""
    output = io.StringIO()
    saved, sys.argv = sys.argv, ["convrec", *arguments]
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            main()
    except SystemExit as exit:
        return int(exit.code or 0), output.getvalue()
    finally:
        sys.argv = saved
    return 0, output.getvalue()


def one_error_line(output: str) -> str:
    """The single ``error:`` line of a failed command (and nothing else printed)."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


# 1. Files outside the run directory: report reads only regular files inside it.


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda path: path.symlink_to("/etc/passwd"), "a symbolic link"),
        (lambda path: os.mkfifo(path), "a FIFO"),
        (lambda path: path.symlink_to("/dev/zero"), "a symbolic link"),
    ],
)
def test_report_refuses_links_and_special_files_without_reading_them(run, make, kind):
    make(run / "zzz.png")
    started = time.perf_counter()
    status, output = command("report", str(run))
    assert status == 2 and time.perf_counter() - started < 30  # no hang on the FIFO
    assert f"zzz.png: expected a regular file or folder inside the run directory, got {kind}" in (
        one_error_line(output)
    )
    assert not (run / "report.html").exists()


def test_a_picture_larger_than_the_limit_is_refused(run, monkeypatch):
    from convrec.diagnose import report

    monkeypatch.setattr(report, "PICTURE_LIMIT", 1000)
    with pytest.raises(UnsafeRunFileError, match=r"\.png: expected at most 1000 bytes"):
        report.write_report(run)


# 2. --resume follows nothing: a checkpoints link or a linked checkpoint is refused.


@pytest.mark.parametrize("linked", ["checkpoints", "checkpoints/epoch-0002"])
def test_resume_refuses_a_run_holding_a_link(run, tmp_path, linked):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run / linked, elsewhere)
    (run / linked).symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / ".bait.tmp").write_text("must survive")
    with pytest.raises(UnsafeRunFileError, match=f"{linked}: expected a regular file or folder"):
        convrec.train("maxwell", resume=run, epochs=3, progress=False)
    assert (elsewhere / ".bait.tmp").read_text() == "must survive"


# 3. One writer per run: an OS lock, named in the refusal; concurrent starts never collide.


def test_a_second_writer_is_refused_naming_the_process_holding_the_run(run):
    script = (
        "import sys, time; from pathlib import Path\n"
        "from convrec.train.rundir import run_lock\n"
        "with run_lock(Path(sys.argv[1])):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(run)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            for arguments in (["report", str(run)], ["train", "maxwell", "--resume", str(run)]):
                status, output = command(*arguments)
                held = f"is in use by another convrec process (process {holder.pid}"
                assert status == 2 and held in one_error_line(output)
        finally:
            holder.kill()
    with run_lock(run):  # released by the holder's death, kill included
        pass


def test_the_lock_is_exclusive_within_a_process_too(tmp_path):
    refused = pytest.raises(RunLockedError, match=f"process {os.getpid()}")
    with run_lock(tmp_path), refused, run_lock(tmp_path):
        pass


def test_runs_started_in_the_same_second_get_distinct_directories_and_leave_nothing(tmp_path):
    config = make_config(task="maxwell", model="gru")
    made, errors = [], []

    def start():
        try:
            made.append(new_run_directory(tmp_path, "maxwell", config))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(made)) == 8
    assert all((directory / "config.yaml").is_file() for directory in made)
    assert sorted(tmp_path.iterdir()) == sorted(made)  # no temporary folder left


# 4. Tiny files, huge costs: YAML aliases are refused before they expand.

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)


def test_a_yaml_bomb_in_a_config_file_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    started = time.perf_counter()
    status, output = command("train", "maxwell", "--config", str(path))
    assert status == 2 and time.perf_counter() - started < 10
    assert "aliases are not allowed" in one_error_line(output)
    assert len(one_error_line(output)) < 500  # nothing expanded is echoed


def test_a_yaml_bomb_in_a_runs_config_is_refused_by_report_and_resume(run):
    (run / "config.yaml").write_text(BOMB)
    for arguments in (["report", str(run)], ["train", "maxwell", "--resume", str(run)]):
        status, output = command(*arguments)
        assert status == 2 and "aliases are not allowed" in one_error_line(output)


# 5. model.json is checked against the weights before anything is built.


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_options": {"hidden_size": 20000}}, r"`model_options.hidden_size` is 20000"),
        ({"model_options": {"num_layers": 1000000}}, r"`model_options.num_layers` is 1000000"),
        ({"model_arguments": {"output_size": 1e9}}, r"`output_size` is 1000000000"),
    ],
)
def test_a_model_json_asking_for_more_than_its_weights_hold_is_refused_at_once(
    run, change, message
):
    description = json.loads((run / "model.json").read_text())
    for key, values in change.items():
        description[key] |= values
    (run / "model.json").write_text(json.dumps(description))
    started = time.perf_counter()
    with pytest.raises(ValueError, match=message + r", more than the \d+ values"):
        convrec.load(run)
    assert time.perf_counter() - started < 5


# 6. A gzip bomb is read as a stream: memory holds the records, not the file several times.


def test_fasta_from_gzip_is_streamed(tmp_path):
    import gzip
    import tracemalloc

    line = b"ACGT" * 15 + b"\n"
    body = b">x\n" + line * (10_000_000 // len(line))
    path = tmp_path / "big.fa.gz"
    path.write_bytes(gzip.compress(body, 9))
    tracemalloc.start()
    try:
        ((_, sequence),) = read_fasta(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(sequence) == 60 * (10_000_000 // len(line))
    assert peak < 2.5 * len(sequence)  # whole-file reading took over 5 times the records


def test_fasta_refuses_characters_that_upper_case_into_others():
    with pytest.raises(ValueError, match=r"line 2, column 5: expected one of .*, got 'ß'"):
        read_fasta(">a\nacgtß\n".encode())


# 7. Resuming a run killed before its first checkpoint keeps its settings.


def test_resuming_without_a_checkpoint_refuses_changed_settings(run):
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").mkdir()
    refused = pytest.raises(IncompatibleCheckpointError, match=r"`seed` is 0 in config\.yaml, 7")
    with pytest.warns(RuntimeWarning, match="no committed checkpoint"), refused:
        convrec.train("maxwell", resume=run, seed=7, progress=False)
    with (
        pytest.warns(RuntimeWarning, match="no committed checkpoint"),
        pytest.raises(
            IncompatibleCheckpointError, match=r"`model_options.hidden_size` is 4 in config\.yaml"
        ),
    ):
        convrec.train("maxwell", resume=run, model_options={"hidden_size": 16}, progress=False)


# 8. predict checks what it loads and what it returns.


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("std", 0.0, r"positive finite values in the input statistics `task_state.std`"),
        ("mean", float("nan"), r"finite values in the input statistics `task_state.mean`"),
    ],
)
def test_damaged_input_statistics_are_refused(run, key, value, message):
    description = json.loads((run / "model.json").read_text())
    description["task_state"][key] = [value] * len(description["task_state"][key])
    (run / "model.json").write_text(json.dumps(description))
    with pytest.raises(ValueError, match=message):
        convrec.load(run)


@pytest.mark.parametrize(
    "statistics", [[1.0, [2.0, 3.0]], "high", {"a": 1}], ids=["ragged", "text", "mapping"]
)
def test_input_statistics_of_the_wrong_form_are_one_documented_error(run, statistics):
    """Found by benchmarks/fuzz_inputs.py: a ragged list raised NumPy's ValueError."""
    description = json.loads((run / "model.json").read_text())
    description["task_state"]["mean"] = statistics
    (run / "model.json").write_text(json.dumps(description))
    with pytest.raises(UserError, match=r"model\.json"):
        convrec.load(run)


def test_non_finite_weights_are_refused(run):
    weights = load_file(run / "model.safetensors")
    name = next(iter(weights))
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, run / "model.safetensors")
    with pytest.raises(ValueError, match=f"the weight `{name}` holds NaN"):
        convrec.load(run)


def test_a_non_finite_prediction_is_refused(run, monkeypatch):
    trained = convrec.load(run)
    monkeypatch.setattr(trained.task, "predict", lambda model, sequences: [np.array([np.nan])])
    with pytest.raises(ValueError, match="prediction for sequence 0 is not finite"):
        trained.predict([np.ones((3, 3))])


# 9. Smaller: digit groups, duplicated columns, float16 on the CPU.


def test_digit_groups_are_not_numbers_in_tables_and_ts_files():
    from convrec.data.readers import read_sequences_csv, read_ts

    with pytest.raises(ValueError, match="line 2"):
        read_sequences_csv(b"sequence_id,x\na,1_0\n", ["x"])
    with pytest.raises(ValueError, match="value 2: expected a number or '\\?', got '2_0'"):
        read_ts(b"@univariate true\n@classLabel true a\n@data\n1,2_0,3:a\n")


def test_a_duplicated_column_name_is_refused():
    from convrec.data.readers import read_sequences_csv

    with pytest.raises(ValueError, match="expected each column name once, got x more than once"):
        read_sequences_csv(b"sequence_id,x,x\na,1,2\n", ["x"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="float16 is allowed on a GPU")
def test_float16_on_the_cpu_is_refused_not_silently_bfloat16(tmp_path):
    status, output = command("train", "maxwell", "--precision", "16-mixed", "--out", str(tmp_path))
    assert status == 2 and "'16-mixed' needs a CUDA GPU" in one_error_line(output)
    assert list(tmp_path.iterdir()) == []


# 10. A damaged manifest falls back to the checkpoint before it.


@pytest.mark.parametrize(
    "manifest",
    [
        '{"format": 1, "files": {}}',
        '{"format": 1, "files": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
    ids=["empty", "nested"],
)
def test_a_damaged_manifest_is_skipped_for_the_previous_checkpoint(run, manifest):
    newest = run / "checkpoints" / "epoch-0002"
    (newest / storage.MANIFEST).write_text(manifest)
    with pytest.warns(RuntimeWarning, match="skipping checkpoint epoch-0002"):
        path, _ = latest_checkpoint(run / "checkpoints")
    assert path.name == "epoch-0001"


# 11. Disk full, read-only: one line naming the file; a bad --out is refused before any work.


def test_a_full_disk_is_one_error_naming_the_file(tmp_path, monkeypatch):
    def full(*arguments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # a full disk shows when the data is flushed
    with pytest.raises(WriteError, match=r"^cannot write .*history\.csv: No space left on device$"):
        write_text(tmp_path / "history.csv", "epoch\n1\n")
    assert isinstance(WriteError(tmp_path, OSError(28, "x")), UserError)


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(monkeypatch):
    from convrec.tasks.maxwell import Maxwell

    def never(*arguments):
        raise AssertionError("the data was built")

    monkeypatch.setattr(Maxwell, "build_data", never)
    status, output = command("train", "maxwell", "--out", "/etc/passwd")
    assert status == 2
    assert "`out`: expected a folder for run directories, got /etc/passwd" in one_error_line(output)


# 13. Tampered files of a run: one documented error with a message.


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.json", '{"task": "maxwell"}', r"expected the field `task_options`"),
        ("model.json", "[" * 100_000 + "]" * 100_000, r"values nested too deep"),
        ("model.json", '{"task": 3}', r"expected the field `task` holding a str"),
        ("metrics.json", "[1, 2]", r"expected a JSON object of metrics"),
        ("gradient_flow.json", '[{"module": 1}]', r"flow 0 is not a gradient flow"),
        ("config.yaml", "- 1\n- 2\n", r"expected a mapping of keys to values"),
        ("config.yaml", "a: [\n", r"expected plain YAML"),
    ],
)
def test_a_tampered_run_file_is_one_documented_error(run, name, content, message):
    assert (run / name).is_file()  # the finished run has it: the test replaces it
    (run / name).write_text(content)
    arguments = ["report", str(run)] if name != "config.yaml" else ["evaluate", str(run)]
    status, output = command(*arguments)
    assert status == 2 and re.search(message, one_error_line(output))


# 14. Messages that say what is wrong.


def test_an_npz_key_named_file_is_predicted_and_a_zero_length_sequence_is_named(run, tmp_path):
    history = np.stack([1 + np.cumsum(np.full(6, 0.005)), np.full(6, 0.01), np.full(6, 0.5)], -1)
    write_npz(tmp_path / "named.npz", {"file": history})  # numpy.savez cannot name it so
    status, output = command("predict", str(run), str(tmp_path / "named.npz"))
    assert status == 0, output
    with np.load(tmp_path / "named.predictions.npz") as predictions:
        assert predictions.files == ["file"] and predictions["file"].shape == (6,)
    write_npz(tmp_path / "empty.npz", {"ok": history, "empty": np.zeros((0, 3))})
    status, output = command("predict", str(run), str(tmp_path / "empty.npz"))
    assert status == 2
    assert "array 'empty': expected a sequence of at least one step" in one_error_line(output)


# 15. A multi-machine run says what it waits for, and gives up after its timeout.


@pytest.mark.slow  # a fresh process waits out its 3 s rendezvous: ~12 s
def test_waiting_for_other_machines_is_said_and_bounded(tmp_path):
    environment = os.environ | {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(29600 + os.getpid() % 300),
        "NODE_RANK": "0",
        "CONVREC_DEBUG": "0",
    }
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "convrec.cli",
            "train",
            "maxwell",
            "--num-nodes",
            "2",
            "--set",
            "rendezvous_timeout=3",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert time.perf_counter() - started < 60
    assert "waiting up to 3 s for 2 machines (2 processes) to meet at 127.0.0.1:" in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "did not all start within 3 s" in error[0]
    assert "Traceback" not in result.stderr
