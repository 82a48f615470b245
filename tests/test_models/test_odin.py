"""ODINClassifier on the tiny CLIP: its score equals the same steps written out here with torch autograd (zero-shot
logits, batch-mean cross-entropy at T to the argmax, sign of the input gradient with sign(0) = +1, a step of ε
[0, 1]-pixels divided by the preprocessing std, max softmax at T); T = 1, ε = 0 is MSP; the cached-feature path
refuses the model; the ViT-B/16 config builds it."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, tiny_backbone
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.engine.scoring import score_cached_split
from mmood.models import OODModel
from mmood.models.classifiers import CLIP_STD, ODINClassifier
from mmood.utils.errors import ConfigError

CLASSES = ['zero', 'one', 'two']


def build(**kwargs) -> ODINClassifier:
    torch.manual_seed(0)
    model = MODELS.build(dict(dict(type='ODINClassifier', backbone=tiny_backbone(), class_names=CLASSES,
                                   head=dict(type='MCMHead'), extra_heads=[dict(type='LogitHead', scores=('msp', ))]),
                              **kwargs))
    model.prepare()
    return model


def by_hand(model, x: torch.Tensor, temperature: float, epsilon: float) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    logits = 100.0 * model.backbone.extract_image_features(x, ('global', ))['global'] @ model.id_text.T
    loss = F.cross_entropy(logits / temperature, logits.argmax(dim=1))
    loss.backward()
    sign = torch.where(x.grad >= 0, torch.ones_like(x), -torch.ones_like(x))
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1) / 255.0
    perturbed = x.detach() - epsilon * sign / std
    with torch.no_grad():
        logits = 100.0 * model.backbone.extract_image_features(perturbed, ('global', ))['global'] @ model.id_text.T
        return (logits / temperature).softmax(dim=1).max(dim=1).values


@pytest.fixture(scope='module')
def images():
    torch.manual_seed(3)
    return torch.rand(6, 3, 32, 32) * 255


def preprocess(model, images):
    return model.data_preprocessor(dict(inputs=images))['inputs']


@pytest.mark.parametrize('temperature, epsilon', [(1000.0, 0.0014), (1.0, 0.02), (10.0, 0.5)])
def test_odin_equals_the_steps_by_hand(images, temperature, epsilon):
    model = build(temperature=temperature, epsilon=epsilon)
    assert model.score_names == ['odin', 'mcm', 'msp'] and model.primary_score == 'odin'
    x = preprocess(model, images)
    with torch.no_grad():  # as in the test loop: ODIN enables the gradient it needs
        samples = model.predict(x)
    got = torch.tensor([s.ood_scores['odin'] for s in samples])
    torch.testing.assert_close(got, by_hand(model, x, temperature, epsilon), rtol=1e-5, atol=1e-7)
    assert torch.equal(torch.stack([s.ood_score for s in samples]), got)
    assert all(p.grad is None for p in model.backbone.parameters())  # the frozen tower is untouched
    # the heads score the unperturbed features
    with torch.no_grad():
        logits = model.class_logits(model.backbone.extract_image_features(x, ('global', )))
    torch.testing.assert_close(torch.tensor([s.ood_scores['msp'] for s in samples]),
                               logits.softmax(dim=1).max(dim=1).values, rtol=1e-5, atol=1e-6)
    assert model.forward(x, mode='tensor')['odin'].shape == (6, )


def test_t1_eps0_is_msp(images):
    model = build(temperature=1.0, epsilon=0.0)
    samples = model.predict(preprocess(model, images))
    torch.testing.assert_close(torch.tensor([s.ood_scores['odin'] for s in samples]),
                               torch.tensor([s.ood_scores['msp'] for s in samples]), rtol=1e-5, atol=1e-6)


def test_cached_features_are_refused(images):
    model = build()
    assert isinstance(model, OODModel) and model.scores_need_images
    with torch.no_grad():
        feats = model.backbone.extract_image_features(preprocess(model, images), model.feature_kinds)
    with pytest.raises(ConfigError, match='cached features cannot be re-scored'):
        model.scores_from_features(feats)
    with pytest.raises(ConfigError, match='run tools/test.py CONFIG; cached features cannot be re-scored'):
        score_cached_split(model, split=None, batch_size=4)  # refused before the split is read


def test_options_are_checked():
    with pytest.raises(ConfigError, match='epsilon=-0.1'):
        build(epsilon=-0.1)
    with pytest.raises(ConfigError, match='temperature=0'):
        build(temperature=0)
    with pytest.raises(ConfigError, match='does not normalise'):
        build(data_preprocessor=dict(type='ClsDataPreprocessor'))


def test_config_builds_the_model():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'odin', 'odin_vitb16.py'))
    model_cfg = cfg.model.to_dict()
    assert model_cfg['type'] == 'ODINClassifier' and model_cfg['head']['type'] == 'MCMHead'
    assert cfg.model.backbone.model_name == 'ViT-B-16'
    model_cfg['backbone'] = tiny_backbone()
    model = MODELS.build(model_cfg)
    assert (model.temperature, model.epsilon, model.primary_score) == (1000.0, 0.0014, 'odin')
    torch.testing.assert_close(model.pixel_std().flatten(), torch.tensor(CLIP_STD) / 255)
