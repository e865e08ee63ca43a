"""Transfer learning: the backbone of a run starts a new model, the head is new, and a frozen
backbone neither learns nor updates its batch-normalisation statistics."""

import pytest
import torch

from convrec.models import create
from convrec.train.callbacks import FreezeBackbone
from convrec.train.model_files import save_model
from convrec.train.transfer import (
    backbone_branches,
    backbone_modules,
    freeze_backbone,
    load_backbone,
)


def _lenet(outputs: int, seed: int):
    torch.manual_seed(seed)
    return create("lenet5", input_shape=(1, 28, 28), output_size=outputs)


def _saved_run(tmp_path, outputs=10):
    source = _lenet(outputs, seed=1)
    save_model(tmp_path, source, {"model": "lenet5"})
    return source


def test_the_backbone_is_copied_and_the_new_head_keeps_its_own_initialisation(tmp_path):
    source = _saved_run(tmp_path)
    target = _lenet(4, seed=2)
    fresh_head = {name: value.clone() for name, value in target.head.state_dict().items()}
    copied = load_backbone(target, tmp_path)
    assert copied and not any(name.startswith("head.") for name in copied)
    for name in copied:
        torch.testing.assert_close(target.state_dict()[name], source.state_dict()[name])
    for name, value in target.head.state_dict().items():
        torch.testing.assert_close(value, fresh_head[name])


def test_a_backbone_of_another_shape_is_refused_naming_the_tensor(tmp_path):
    _saved_run(tmp_path)
    torch.manual_seed(0)
    other = create("lenet5", input_shape=(3, 28, 28), output_size=10)
    with pytest.raises(ValueError, match=r"`finetune`.*does not fit this model: `.*` should have"):
        load_backbone(other, tmp_path)


def test_a_frozen_backbone_does_not_change_in_training_but_the_head_does(tmp_path):
    _saved_run(tmp_path)
    model = _lenet(10, seed=3)
    load_backbone(model, tmp_path)
    before = {name: value.clone() for name, value in model.state_dict().items()}

    class LoopStub:
        pass

    loop = LoopStub()
    loop.model = model
    freeze_backbone(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    FreezeBackbone().on_epoch_start(loop)
    for _ in range(3):
        loss = model(torch.randn(8, 1, 28, 28)).logsumexp(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = model.state_dict()
    for name, value in after.items():
        if name.startswith("head."):
            continue
        torch.testing.assert_close(value, before[name], msg=f"{name} changed")
    assert any(not torch.equal(after[name], before[name]) for name in after if "head." in name)
    assert not any(module.training for module in model.features.modules())
    assert all(module.training for module in model.head.modules())


@pytest.mark.parametrize("use", [backbone_modules, backbone_branches, freeze_backbone])
def test_a_model_without_a_head_has_no_backbone(use):
    with pytest.raises(ValueError, match="has no `head` module"):
        use(torch.nn.Linear(2, 2))


def test_a_backbone_container_sharing_a_head_layer_is_left_in_training_mode():
    shared = torch.nn.Dropout(0.5)
    model = torch.nn.Module()
    model.features = torch.nn.Sequential(torch.nn.Linear(2, 2), shared)
    model.head = torch.nn.Sequential(shared, torch.nn.Linear(2, 1))
    branches = list(backbone_branches(model))
    assert model.features[0] in branches
    assert model.features not in branches and shared not in branches
