"""LinearView: CLIP's zero-shot classifier as W z / n(z) on the pre-projection feature equals the classifier's own
logits, shaping keeps the unshaped normaliser, features are never mutated; the probe view is the probe's last layer."""
import pytest
import torch

from mmood.models.heads import HeadContext, LinearProbeHead, build_view
from posthoc_cases import tiny_zero_shot


@pytest.fixture(scope='module')
def model():
    return tiny_zero_shot(dict(type='MCMHead'))


def test_zero_shot_view_equals_the_classifier(model):
    images = torch.rand(5, 3, 32, 32) * 255
    with torch.no_grad():
        feats = model.backbone.extract_image_features(model.data_preprocessor(dict(inputs=images))['inputs'],
                                                      ('global', 'pre_proj'))
    view = build_view('zero_shot', model.head_context(), 'test')
    pre = feats['pre_proj'].clone()
    z = view.features(feats)
    torch.testing.assert_close(view.logits(z).float(), model.class_logits(feats), rtol=1e-5, atol=1e-4)
    assert view.weight.shape == (3, pre.shape[1]) and torch.equal(feats['pre_proj'], pre)
    shaped = z * 2.0  # a global rescale of the shaped feature survives the frozen normaliser
    torch.testing.assert_close(view.logits(shaped, z), 2.0 * view.logits(z))
    z[:] = 0  # z is a copy: the features stay
    assert torch.equal(feats['pre_proj'], pre)


def test_probe_view_is_the_probe_layer():
    torch.manual_seed(1)
    probe = LinearProbeHead(4, 3, feature='pre_proj')
    probe.set_statistics(torch.randn(4), torch.rand(4) + 0.5)
    x = torch.randn(6, 4)
    view = build_view('probe', HeadContext(id_text=torch.eye(3), extra=dict(probe=probe)), 'test')
    z = view.features({'pre_proj': x})
    torch.testing.assert_close(view.logits(z).float(), probe.logits(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(view.normaliser(z), torch.ones(6, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match='hidden layers'):
        deep = LinearProbeHead(4, 3, hidden=(5, ))
        deep.set_statistics(torch.zeros(4), torch.ones(4))
        build_view('probe', HeadContext(id_text=torch.eye(3), extra=dict(probe=deep)), 'test')
