"""ReActHead on a tiny CLIP's zero-shot view equals ``react_score`` on (z, W = 100 · T̂ Pᵀ, b = 0, n = ‖z P‖) with c
fitted on the ID-train z; the probe view reads the probe's last layer; the features are never mutated; options out
of range are refused."""
import numpy as np
import pytest
import torch

from mmood.models.heads import HeadContext, LinearProbeHead, ReActHead, build_method
from mmood.scores import react_score, react_threshold
from posthoc_cases import tiny_zero_shot


@pytest.fixture(scope='module')
def model():
    return tiny_zero_shot(dict(type='ReActHead', percentile=80))


def zero_shot_parts(model):
    proj = model.backbone.clip.visual.proj.detach().double()
    return 100.0 * model.id_text.double() @ proj.T, proj


def test_zero_shot_view_equals_the_score_function(model):
    torch.manual_seed(1)
    train, test = torch.randn(50, 64), torch.randn(9, 64)
    train_copy, test_copy = train.clone(), test.clone()
    head = model.head
    assert isinstance(head, ReActHead) and head.requires_fit and not head.fitted
    with pytest.raises(RuntimeError, match='fit'):
        head({'pre_proj': test})
    model.fit_heads({'pre_proj': train, 'global': torch.randn(50, 32)}, torch.zeros(50, dtype=torch.long))
    assert head.fitted and head.threshold == pytest.approx(np.percentile(train.double().numpy(), 80), rel=1e-12)
    weight, proj = zero_shot_parts(model)
    z = test.double()
    expected = react_score(z, weight, torch.zeros(3, dtype=torch.float64), (z @ proj).norm(dim=1, keepdim=True),
                           threshold=react_threshold(train, 80))
    _, scores = model.scores_from_features({'pre_proj': test, 'global': torch.randn(9, 32)})
    assert set(scores) == {'react'}
    np.testing.assert_allclose(scores['react'].numpy(), expected.numpy(), rtol=1e-6)
    assert torch.equal(train, train_copy) and torch.equal(test, test_copy)


def test_probe_view():
    torch.manual_seed(2)
    probe = LinearProbeHead(6, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    ctx = HeadContext(id_text=torch.eye(4), extra=dict(probe=probe))
    head = build_method('plp_react').prepare(ctx)
    assert head.score_names == ('plp_react', ) and head.view.kind == 'pre_proj'
    train, test = torch.randn(40, 6), torch.randn(7, 6)
    head.fit({'pre_proj': train})
    with torch.no_grad():
        z_train, z = probe.standardize(train).double(), probe.standardize(test).double()
        expected = react_score(z, probe.fc.weight.double(), probe.fc.bias.double(),
                               threshold=react_threshold(z_train, 90))
    np.testing.assert_allclose(head({'pre_proj': test})['plp_react'].numpy(), expected.numpy(), rtol=1e-5)


def test_options_are_checked():
    with pytest.raises(ValueError, match='percentile=101'):
        ReActHead(percentile=101)
    with pytest.raises(ValueError, match='percentile=-1'):
        build_method('react', dict(percentile=-1))
    with pytest.raises(ValueError, match='view'):
        ReActHead(view='h')
