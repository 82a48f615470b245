"""DICEHead on a tiny CLIP's zero-shot view equals ``dice_score`` on (z, W = 100 · T̂ Pᵀ, b = 0, n = ‖z P‖) with m
fitted on the ID-train z; the mask follows the percentile; the probe view reads the probe's last layer; the features
are never mutated; options out of range are refused."""
import numpy as np
import pytest
import torch

from mmood.models.heads import DICEHead, HeadContext, LinearProbeHead, build_method
from mmood.scores import dice_score
from posthoc_cases import tiny_zero_shot


@pytest.fixture(scope='module')
def model():
    return tiny_zero_shot(dict(type='DICEHead', percentile=70))


def test_zero_shot_view_equals_the_score_function(model):
    torch.manual_seed(1)
    train, test = torch.randn(50, 64) + 0.3, torch.randn(9, 64)
    train_copy, test_copy = train.clone(), test.clone()
    head = model.head
    assert isinstance(head, DICEHead) and head.requires_fit and not head.fitted
    with pytest.raises(RuntimeError, match='fit'):
        head({'pre_proj': test})
    model.fit_heads({'pre_proj': train, 'global': torch.randn(50, 32)})
    assert head.fitted
    torch.testing.assert_close(head.mean, train.double().mean(0))
    proj = model.backbone.clip.visual.proj.detach().double()
    z, weight = test.double(), 100.0 * model.id_text.double() @ proj.T
    zeros, norm = torch.zeros(3, dtype=torch.float64), (z @ proj).norm(dim=1, keepdim=True)
    feats = {'pre_proj': test, 'global': torch.randn(9, 32)}
    _, scores = model.scores_from_features(feats)
    expected = dice_score(z, weight, zeros, norm, mean=train.double().mean(0), percentile=70)
    np.testing.assert_allclose(scores['dice'].numpy(), expected.numpy(), rtol=1e-6)
    head.percentile = 90.0  # the mask is recomputed (not frozen at the first batch)
    expected = dice_score(z, weight, zeros, norm, mean=train.double().mean(0), percentile=90)
    np.testing.assert_allclose(head(feats)['dice'].numpy(), expected.numpy(), rtol=1e-6)
    assert torch.equal(train, train_copy) and torch.equal(test, test_copy)


def test_probe_view():
    torch.manual_seed(2)
    probe = LinearProbeHead(10, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(10), torch.rand(10) + 0.5)
    head = build_method('plp_dice').prepare(HeadContext(id_text=torch.eye(4), extra=dict(probe=probe)))
    assert head.score_names == ('plp_dice', )
    train, test = torch.randn(40, 10), torch.randn(7, 10)
    head.fit({'pre_proj': train})
    with torch.no_grad():
        expected = dice_score(probe.standardize(test).double(), probe.fc.weight.double(), probe.fc.bias.double(),
                              mean=probe.standardize(train).double().mean(0))
    np.testing.assert_allclose(head({'pre_proj': test})['plp_dice'].numpy(), expected.numpy(), rtol=1e-5)


def test_options_are_checked():
    with pytest.raises(ValueError, match='percentile=100'):
        DICEHead(percentile=100)
    with pytest.raises(ValueError, match='percentile=-1'):
        build_method('dice', dict(percentile=-1))
