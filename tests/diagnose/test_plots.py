import numpy as np
import pytest
import torch

from convrec.diagnose.gradient_flow import gradient_flow
from convrec.diagnose.plots import (
    class_scores,
    plot_class_scores,
    plot_gradient_flow,
    plot_gradient_flow_history,
)
from convrec.nn import LSTM

PNG = b"\x89PNG\r\n\x1a\n"


def test_class_scores_from_a_confusion_matrix() -> None:
    matrix = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]])
    scores = class_scores(matrix)
    assert scores["precision"] == pytest.approx([8 / 9, 9 / 11, 0])
    assert scores["recall"] == pytest.approx([0.8, 0.9, 0])
    assert scores["f1"][0] == pytest.approx(2 * (8 / 9) * 0.8 / (8 / 9 + 0.8))
    assert scores["f1"][2] == 0


def test_class_scores_and_gradient_flow_are_drawn(tmp_path) -> None:
    assert plot_class_scores(np.eye(3, dtype=int) * 5, ["a", "b", "c"], tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG
    layer = LSTM(2, 3, bidirectional=True)
    flows = gradient_flow(layer, torch.randn(2, 9, 2), None, lambda out, _: out.square().sum())
    assert plot_gradient_flow(flows, tmp_path / "g.png").read_bytes()[:8] == PNG
    history = [{"epoch": e, "flows": [flow.to_dict() for flow in flows]} for e in (1, 2)]
    assert plot_gradient_flow_history(history, tmp_path / "h.png").read_bytes()[:8] == PNG
