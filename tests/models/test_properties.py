"""PBT-3 on the zoo's sequence-to-sequence recurrent models (the maxwell task's default models):
one output per step, ``(B, L, 1)``, causal and independent of the other samples in eval mode.

The layers' own invariants, chunked inference included, are in ``tests/nn/test_properties.py``.
"""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrec.models import create

cases = st.fixed_dictionaries(
    {
        "cell": st.sampled_from(["rnn", "lstm", "gru"]),
        "batch": st.integers(1, 8),
        "steps": st.integers(1, 300),
    }
)


@settings(max_examples=15)
@given(case=cases, data=st.data())
def test_a_tagger_gives_one_causal_output_per_step_independent_of_the_batch(case, data):
    model = create(
        case["cell"], input_shape=(None, 3), output_size=1, hidden_size=6, num_layers=2
    ).eval()
    x = torch.randn(case["batch"], case["steps"], 3)
    step = data.draw(st.integers(0, case["steps"] - 1), label="perturbed step")
    perturbed = x.clone()
    perturbed[:, step] -= 5.0
    with torch.no_grad():
        output, after = model(x), model(perturbed)
        alone = torch.cat([model(x[item : item + 1]) for item in range(case["batch"])])
    assert output.shape == (case["batch"], case["steps"], 1)
    assert torch.equal(output[:, :step], after[:, :step])
    assert not torch.equal(output[:, step:], after[:, step:])
    torch.testing.assert_close(output, alone, rtol=0, atol=1e-6)
