"""An HTTP server for trained runs: ``convrec serve RUN [RUN ...] --port N`` (FastAPI on
uvicorn).

Endpoints (``MODEL`` is a run directory's name; with one run served it may be left out):

- ``GET /health``: ``{"status": "ok", "models": [...]}``;
- ``GET /metadata``: each model's task, input kind, shape and columns, classes, output columns;
- ``POST /predict`` with JSON ``{"model": MODEL, "inputs": [...]}``: each input as
  ``convrec.load(RUN).predict`` takes it (a ``(T, features)`` array as nested lists, a text, a
  waveform, an image ``(C, H, W)``); answers ``{"model", "predictions", "classes"?}``;
- ``POST /predict/file`` with a multipart ``file`` (and a ``model`` form field): a file as
  ``convrec predict`` reads it (CSV, NPZ, WAV, an image, a text file); answers also ``"ids"``.

Requests arriving together are answered by one batched forward pass per model (``max_batch``
sequences, waiting at most ``max_wait_ms`` for company): a padded batch gives every sequence what
it gets alone. Bad requests get a 4xx JSON answer naming the field (``{"error", "field"}``, or
FastAPI's ``{"detail"}`` for a malformed body); bodies over ``max_upload_bytes`` get 413. Nothing
is unpickled: JSON, and files through convrec's readers.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from convrec.errors import UserError
from convrec.train.predictions import read_inputs
from convrec.train.trained import TrainedModel, load

MAX_UPLOAD_BYTES = 16 * 2**20


class PredictRequest(BaseModel):
    """The body of ``POST /predict``."""

    inputs: list[Any]
    model: str | None = None


class RequestError(Exception):
    """A request the server refuses: its HTTP status, the field at fault and why."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


@dataclass
class Batcher:
    """Gathers the sequences of requests that arrive together into one ``predict`` call."""

    trained: TrainedModel
    max_batch: int
    max_wait: float
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    async def predict(self, sequences: list[Any]) -> list[np.ndarray]:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((sequences, future))
        return await future

    async def run(self) -> None:
        """Forever: take a request, wait up to ``max_wait`` for others, predict them all."""
        while True:
            waiting = [await self.queue.get()]
            count = len(waiting[0][0])
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while count < self.max_batch:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    waiting.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
                count += len(waiting[-1][0])
            await self._answer(waiting)

    async def _answer(self, waiting: list[tuple[list[Any], asyncio.Future]]) -> None:
        together = [sequence for sequences, _ in waiting for sequence in sequences]
        try:
            predictions = await asyncio.to_thread(self.trained.predict, together)
        except UserError:  # one request's bad input: answer each request on its own
            for sequences, future in waiting:
                try:
                    future.set_result(await asyncio.to_thread(self.trained.predict, sequences))
                except UserError as error:
                    future.set_exception(error)
            return
        start = 0
        for sequences, future in waiting:
            future.set_result(predictions[start : start + len(sequences)])
            start += len(sequences)


def metadata(trained: TrainedModel) -> dict[str, Any]:
    """What a client needs to form inputs and read answers."""
    task = trained.task
    return {
        "task": trained.description["task"],
        "model": trained.description["model"],
        "input_kind": task.input_kind,
        "input_shape": list(task.input_shape),
        "input_columns": list(trained.description.get("input_columns") or []),
        "output_columns": list(trained.description.get("output_columns") or []),
        "classes": list(getattr(task, "classes", ())),
        "outputs_per_step": task.outputs_per_step,
    }


def create_app(
    runs: list[str | Path],
    max_batch: int = 64,
    max_wait_ms: float = 5.0,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The server's application for the run directories ``runs`` (loaded now)."""
    models = {Path(run).name: load(run) for run in runs}
    batchers = {
        name: Batcher(trained, max_batch, max_wait_ms / 1000) for name, trained in models.items()
    }

    @asynccontextmanager
    async def batching(app: FastAPI) -> AsyncIterator[None]:
        workers = [asyncio.create_task(batcher.run()) for batcher in batchers.values()]
        yield
        for worker in workers:
            worker.cancel()

    app = FastAPI(title="convrec", description=__doc__.split("\n\n")[0], lifespan=batching)

    @app.middleware("http")
    async def limit_size(request: Request, call_next: Any) -> Any:
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return _error(411, "content-length", "a Content-Length header is required")
            if not length.isdigit() or int(length) > max_upload_bytes:
                return _error(
                    413, "body", f"a body of at most {max_upload_bytes} bytes, got {length}"
                )
        return await call_next(request)

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> JSONResponse:
        return _error(error.status, error.field, error.message)

    @app.exception_handler(UserError)
    async def bad_input(request: Request, error: UserError) -> JSONResponse:
        return _error(400, "inputs", str(error))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": list(models)}

    @app.get("/metadata")
    async def describe() -> dict[str, Any]:
        return {"models": {name: metadata(trained) for name, trained in models.items()}}

    def chosen(name: str | None) -> str:
        if name is None:
            if len(models) == 1:
                return next(iter(models))
            raise RequestError(400, "model", f"name one of the models served: {list(models)}")
        if name not in models:
            raise RequestError(404, "model", f"no model {name!r}; served: {list(models)}")
        return name

    def answer(name: str, predictions: list[np.ndarray], ids: list[str] | None = None) -> dict:
        body: dict[str, Any] = {"model": name, "predictions": [p.tolist() for p in predictions]}
        task = models[name].task
        classes = list(getattr(task, "classes", ()))
        if classes:
            body["classes"] = classes
        if hasattr(task, "prediction_texts"):  # predictions that read as text (phonemes)
            body["texts"] = task.prediction_texts(predictions)
        if ids is not None:
            body["ids"] = ids
        return body

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        name = chosen(request.model)
        if not request.inputs:
            raise RequestError(422, "inputs", "at least one input")
        inputs = [_array(item, index) for index, item in enumerate(request.inputs)]
        return answer(name, await batchers[name].predict(inputs))

    @app.post("/predict/file")
    async def predict_file(
        file: Annotated[UploadFile, File()], model: Annotated[str | None, Form()] = None
    ) -> dict[str, Any]:
        name = chosen(model)
        suffix = Path(file.filename or "upload").suffix.lower()
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / f"upload{suffix}"
            path.write_bytes(await file.read())
            ids, inputs = await asyncio.to_thread(read_inputs, models[name], path)
        return answer(name, await batchers[name].predict(inputs), ids)

    return app


def _array(item: Any, index: int) -> Any:
    """A JSON input as ``predict`` takes it: a text stays a text, numbers become an array."""
    if isinstance(item, str):
        return item
    try:
        return np.asarray(item, dtype=np.float32)
    except (TypeError, ValueError):
        raise RequestError(
            422, f"inputs[{index}]", "a text or a rectangular array of numbers"
        ) from None


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "field": field})


def serve(
    runs: list[str | Path],
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch: int = 64,
    max_wait_ms: float = 5.0,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> None:
    """Run the server until interrupted."""
    import uvicorn

    app = create_app(runs, max_batch, max_wait_ms, max_upload_bytes)
    uvicorn.run(app, host=host, port=port, log_level="warning")
