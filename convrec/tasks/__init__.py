"""Tasks (recipes): data, default model, loss, metrics and plots for each application."""

from convrec.tasks import maxwell
from convrec.tasks.base import Task, TaskData, available_tasks, create_task, register_task

__all__ = ["Task", "TaskData", "available_tasks", "create_task", "maxwell", "register_task"]
