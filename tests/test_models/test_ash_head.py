"""ASHHead on a tiny CLIP's zero-shot view equals ``ash_score`` on (z, W = 100 · T̂ Pᵀ, b = 0, n = ‖z P‖) for each
variant; the probe view reads the probe's last layer; the features are never mutated; options out of range are
refused."""
import numpy as np
import pytest
import torch

from mmood.models.heads import ASHHead, HeadContext, LinearProbeHead, build_method
from mmood.scores import ash_score
from posthoc_cases import tiny_zero_shot


@pytest.fixture(scope='module')
def model():
    return tiny_zero_shot(dict(type='MCMHead'))


@pytest.mark.parametrize('variant, q', [('b', 90), ('p', 65), ('s', 70)])
def test_zero_shot_view_equals_the_score_function(model, variant, q):
    torch.manual_seed(1)
    test = torch.randn(9, 64)
    copy = test.clone()
    head = build_method('ash', dict(variant=variant, percentile=q)).prepare(model.head_context())
    assert isinstance(head, ASHHead) and head.score_names == ('ash', ) and not head.requires_fit
    proj = model.backbone.clip.visual.proj.detach().double()
    z = test.double()
    expected = ash_score(z, 100.0 * model.id_text.double() @ proj.T, torch.zeros(3, dtype=torch.float64),
                         (z @ proj).norm(dim=1, keepdim=True), percentile=q, variant=variant)
    out = head({'pre_proj': test})['ash']
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    assert torch.equal(test, copy)


def test_probe_view():
    torch.manual_seed(2)
    probe = LinearProbeHead(10, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(10), torch.rand(10) + 0.5)
    head = build_method('plp_ash', dict(variant='s')).prepare(HeadContext(id_text=torch.eye(4),
                                                                          extra=dict(probe=probe)))
    test = torch.randn(7, 10)
    with torch.no_grad():
        expected = ash_score(probe.standardize(test).double(), probe.fc.weight.double(), probe.fc.bias.double(),
                             percentile=90, variant='s')
    np.testing.assert_allclose(head({'pre_proj': test})['plp_ash'].numpy(), expected.numpy(), rtol=1e-5)


def test_options_are_checked():
    with pytest.raises(ValueError, match='percentile=100'):
        ASHHead(percentile=100)
    with pytest.raises(ValueError, match='percentile=-5'):
        build_method('ash', dict(percentile=-5))
    with pytest.raises(ValueError, match='variant'):
        ASHHead(variant='x')
