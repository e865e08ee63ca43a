"""NAN-3: anomaly detection names the backward of the operation that made a NaN in a zoo model."""

import warnings

import pytest
import torch

from convrec.models import create


def test_detect_anomaly_names_the_division_that_made_a_planted_zero_over_zero():
    model = create("gru", input_shape=(None, 3), output_size=1, hidden_size=4, num_layers=1)
    x = torch.randn(2, 5, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError) as error:
            output = model(x)  # (B, T, 1)
            zero = output - output.detach()
            (zero / zero).sum().backward()  # 0/0 in the forward pass, NaN in the backward
    assert "Function 'DivBackward0' returned nan values" in str(error.value)
    forward_traces = [
        str(item.message) for item in caught if "Error detected in" in str(item.message)
    ]
    assert any("DivBackward0" in trace for trace in forward_traces)
