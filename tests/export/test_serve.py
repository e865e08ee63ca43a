"""``convrec serve``: a real server process on a free port, a real HTTP client, 32 clients at
once, answers equal to ``convrec predict``'s; bad requests get 4xx JSON naming the field."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

import convrec
from tests.tasks.test_series import make_series

CLIENTS = 32


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(series_run):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "convrec.cli",
            "serve",
            str(series_run.directory),
            "--port",
            str(port),
            "--max-upload-mb",
            "0.05",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CONVREC_IMPORT": ""},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()[1]
    yield url
    process.terminate()
    process.communicate(timeout=30)  # closes the pipes


def sequences(count: int, seed: int) -> list[np.ndarray]:
    values, _ = make_series(count, seed=seed)
    lengths = np.random.default_rng(seed).integers(1, 31, size=count)
    return [
        series[:length].astype(np.float32) for series, length in zip(values, lengths, strict=True)
    ]


def test_32_concurrent_clients_get_what_predict_gives(server, series_run):
    requests = [sequences(3, seed) for seed in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(
            pool.map(
                lambda batch: httpx.post(
                    f"{server}/predict", json={"inputs": [s.tolist() for s in batch]}, timeout=60
                ),
                requests,
            )
        )
    trained = convrec.load(series_run.directory)
    for batch, answer in zip(requests, answers, strict=True):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["classes"] == list(trained.task.classes)
        np.testing.assert_allclose(
            np.array(body["predictions"]), np.stack(trained.predict(batch)), atol=1e-6
        )


def test_a_csv_upload_is_read_and_answered_as_convrec_predict_does(server, series_run, tmp_path):
    batch = sequences(4, 7)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["id", "a", "b"])
    for index, series in enumerate(batch):
        for step in series:
            writer.writerow([f"q{index}", *step])
    (tmp_path / "new.csv").write_text(rows.getvalue())
    answer = httpx.post(
        f"{server}/predict/file", files={"file": ("new.csv", rows.getvalue())}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "convrec.cli",
            "predict",
            str(series_run.directory),
            str(tmp_path / "new.csv"),
            "--out",
            str(tmp_path / "out.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    body = answer.json()
    assert body["ids"] == [row["id"] for row in table]
    expected = [[float(row[f"p_{name}"]) for name in body["classes"]] for row in table]
    np.testing.assert_allclose(np.array(body["predictions"]), expected, rtol=1e-5)


def test_health_and_metadata_describe_the_model(server, series_run):
    assert httpx.get(f"{server}/health").json() == {
        "status": "ok",
        "models": [series_run.directory.name],
    }
    described = httpx.get(f"{server}/metadata").json()["models"][series_run.directory.name]
    assert described["input_kind"] == "sequence" and described["input_shape"] == [None, 2]
    assert described["classes"] == list(convrec.load(series_run.directory).task.classes)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"),
    [
        ({"json": {"inputs": [[[1.0, 2.0, 3.0]]]}}, 400, "inputs"),  # three channels, not two
        ({"json": {"inputs": [[[1.0, 2.0], [3.0]]]}}, 422, "inputs[0]"),  # ragged
        ({"json": {"inputs": []}}, 422, "inputs"),
        ({"json": {"inputs": [[[1.0, 2.0]]], "model": "other"}}, 404, "model"),
        ({"json": {"inputs": [[[0.5, 0.5]] * 6000]}}, 413, "body"),  # over the 0.05 MB limit
    ],
)
def test_bad_requests_get_a_json_error_naming_the_field(server, request_kwargs, status, field):
    answer = httpx.post(f"{server}/predict", timeout=60, **request_kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field and answer.json()["error"]


def test_a_body_that_is_not_the_schema_names_the_missing_field(server):
    answer = httpx.post(f"{server}/predict", json={"values": []}, timeout=60)
    assert answer.status_code == 422
    assert any(item["loc"][-1] == "inputs" for item in answer.json()["detail"])
