"""Tasks (recipes): data, default model, loss, metrics and plots for each application."""

from convrec.tasks import (
    audio_files,
    forecast_files,
    images,
    maxwell,
    pronunciation,
    recipes,
    series,
    series_regression,
    speech_recognition,
    stream_anomalies,
    text_files,
)
from convrec.tasks.base import Task, TaskData, available_tasks, create_task, register_task
from convrec.tasks.classification import Classification
from convrec.tasks.dataset import DatasetTask
from convrec.tasks.forecasting import Forecasting
from convrec.tasks.language import LanguageModelling

__all__ = [
    "Classification",
    "DatasetTask",
    "Forecasting",
    "LanguageModelling",
    "Task",
    "TaskData",
    "audio_files",
    "available_tasks",
    "create_task",
    "forecast_files",
    "images",
    "maxwell",
    "pronunciation",
    "recipes",
    "register_task",
    "series",
    "series_regression",
    "speech_recognition",
    "stream_anomalies",
    "text_files",
]
