"""SCALEHead on a tiny CLIP's zero-shot view equals ``scale_score`` on (z, W = 100 · T̂ Pᵀ, b = 0, n = ‖z P‖): the
frozen normaliser keeps the rescale e^r; the probe view reads the probe's last layer; the features are never
mutated; options out of range are refused."""
import numpy as np
import pytest
import torch

from mmood.models.heads import HeadContext, LinearProbeHead, SCALEHead, build_method
from mmood.scores import linear_energy, scale_score, sharpen_ratio
from posthoc_cases import tiny_zero_shot


@pytest.fixture(scope='module')
def model():
    return tiny_zero_shot(dict(type='MCMHead'))


def test_zero_shot_view_equals_the_score_function(model):
    torch.manual_seed(1)
    test = torch.randn(9, 64).abs()  # s2 well away from 0
    copy = test.clone()
    head = build_method('scale').prepare(model.head_context())
    assert isinstance(head, SCALEHead) and head.score_names == ('scale', ) and head.percentile == 85
    proj = model.backbone.clip.visual.proj.detach().double()
    z, weight = test.double(), 100.0 * model.id_text.double() @ proj.T
    norm = (z @ proj).norm(dim=1, keepdim=True)
    expected = scale_score(z, weight, torch.zeros(3, dtype=torch.float64), norm, percentile=85)
    out = head({'pre_proj': test})['scale']
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    # the rescale survives: e^r times the zero-shot logits, not the plain energy
    logits = z @ weight.T / norm
    np.testing.assert_allclose(out.numpy(), torch.logsumexp(sharpen_ratio(z, 85).exp()[:, None] * logits, 1),
                               rtol=1e-6)
    assert not np.allclose(out.numpy(), linear_energy(z, weight, None, norm).numpy())
    assert torch.equal(test, copy)


def test_probe_view():
    torch.manual_seed(2)
    probe = LinearProbeHead(10, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(10), torch.rand(10) + 0.5)
    head = build_method('plp_scale').prepare(HeadContext(id_text=torch.eye(4), extra=dict(probe=probe)))
    test = torch.randn(7, 10)
    with torch.no_grad():
        expected = scale_score(probe.standardize(test).double(), probe.fc.weight.double(), probe.fc.bias.double(),
                               percentile=85)
    np.testing.assert_allclose(head({'pre_proj': test})['plp_scale'].numpy(), expected.numpy(), rtol=1e-5)


def test_options_are_checked():
    with pytest.raises(ValueError, match='percentile=100'):
        SCALEHead(percentile=100)
    with pytest.raises(ValueError, match='percentile=-1'):
        build_method('scale', dict(percentile=-1))
