import base64
import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from convrec.diagnose.gradient_flow import gradient_flow
from convrec.diagnose.plots import plot_class_scores, plot_gradient_flow
from convrec.diagnose.report import write_report
from convrec.diagnose.summary import summary
from convrec.models import create
from convrec.nn import GRU

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def run_dir(tmp_path):
    """A run directory as training leaves it: metrics, config, pictures, gradient flow."""
    (tmp_path / "metrics.json").write_text(
        json.dumps(
            {
                "task": "digits",
                "model": "gru",
                "test": {"test": {"accuracy": 0.875, "macro_f1": 0.5}, "noisy": {"accuracy": 0.25}},
            }
        )
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"lr": 0.001, "seed": 3}))
    plot_class_scores(np.diag([5, 4, 3]), ["a", "b", "c"], tmp_path / "class_scores.png")
    layer = GRU(3, 4)
    flows = gradient_flow(layer, torch.randn(2, 12, 3), None, lambda out, _: out.sum())
    plot_gradient_flow(flows, tmp_path / "gradient_flow.png")
    (tmp_path / "gradient_flow.json").write_text(json.dumps([flow.to_dict() for flow in flows]))
    return tmp_path


def test_the_report_embeds_everything_and_reaches_for_nothing(run_dir):
    model = create("lenet5", input_shape=(1, 28, 28), output_size=10)
    page = write_report(run_dir, summary(model, (1, 1, 28, 28))).read_text()
    for picture in ("class_scores.png", "gradient_flow.png"):
        assert base64.b64encode((run_dir / picture).read_bytes()).decode() in page
    assert "test.test" not in page  # test sets are rows, metrics columns
    assert "<th>test set</th><th>accuracy</th><th>macro_f1</th>" in page
    assert '<tr><th>test</th><td class="number">0.875</td><td class="number">0.5</td></tr>' in page
    assert '<tr><th>noisy</th><td class="number">0.25</td><td></td></tr>' in page
    assert "61,706 parameters" in page and "features.0" in page
    assert "Gradient flow through time" in page and "sigma_max" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert (run_dir / "report.html").is_file()


def test_a_directory_without_metrics_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"argument `run_dir`.*no metrics\.json"):
        write_report(tmp_path)


def render(page, tmp_path):
    """Screenshot ``page`` in headless Chromium; return the image and Chromium's log."""
    screenshot = tmp_path / "screenshot.png"
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={screenshot}",
            "--window-size=1200,1600",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return np.asarray(Image.open(screenshot).convert("RGB")), completed.stderr


def console_messages(log):
    return [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium package (.ci/run installs it)"
)
def test_the_report_renders_in_headless_chromium_without_console_errors(run_dir, tmp_path):
    page = write_report(run_dir)
    pixels, log = render(page, tmp_path)
    assert console_messages(log) == []
    not_white = (pixels < 240).any(axis=-1).mean()
    assert not_white > 0.03  # text, tables and pictures, not a blank page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # the plots' colours
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>missingFunction()</script></body></html>")
    _, log = render(broken, tmp_path)
    assert any("missingFunction" in line for line in console_messages(log))  # the check works
