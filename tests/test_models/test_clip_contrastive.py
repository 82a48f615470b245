"""CLIPContrastiveModel (loss / predict / frozen prefixes) and the open_clip weight export round trip."""
import os

import pytest
import torch
from conftest import tiny_backbone
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmood.models.classifiers.clip_contrastive import export_open_clip_weights, open_clip_state_dict

init_default_scope('mmpretrain')
CLASSES = ['zero', 'one', 'two']


def build(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(dict(type='CLIPContrastiveModel', backbone=tiny_backbone(), class_names=CLASSES,
                                  templates=['the number {}']), **kwargs))


def samples(texts):
    out = []
    for t in texts:
        s = DataSample()
        s.set_field(t, 'text')
        out.append(s)
    return out


def test_loss_trains_both_towers_and_respects_frozen_prefixes():
    model = build(frozen_prefixes=('token_embedding', ))
    model.train()
    assert not model.backbone.frozen
    images = torch.randn(4, 3, 32, 32)
    losses = model(images, samples(['handwritten 1', 'the number two', 'a drawing of a 0', 'handwritten 2']),
                   mode='loss')
    assert set(losses) == {'loss', 'logit_scale'} and losses['loss'].ndim == 0
    losses['loss'].backward()
    clip = model.backbone.clip
    assert clip.token_embedding.weight.grad is None and not clip.token_embedding.weight.requires_grad
    for param in (clip.visual.conv1.weight, clip.text_projection, clip.logit_scale,
                  clip.transformer.resblocks[0].attn.in_proj_weight):
        assert param.grad is not None and param.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='caption'):
        model(images, [DataSample() for _ in range(4)], mode='loss')
    with pytest.raises(ValueError, match='match no parameter'):
        build(frozen_prefixes=('no_such_module', ))


def test_predict_zero_shot(monkeypatch):
    model = build().eval()
    calls = []
    encode = model.backbone.build_text_classifier
    monkeypatch.setattr(model.backbone, 'build_text_classifier', lambda *a, **k: calls.append(1) or encode(*a, **k))
    out = model(torch.randn(5, 3, 32, 32), [DataSample() for _ in range(5)], mode='predict')
    assert len(out) == 5
    for s in out:
        assert s.pred_score.shape == (3, ) and torch.isclose(s.pred_score.sum(), torch.tensor(1.0))
        assert int(s.pred_label) == int(s.pred_score.argmax())
    # the class prompts are encoded once per evaluation, not per batch ...
    again = model(torch.randn(3, 3, 32, 32), None, mode='predict')
    assert len(calls) == 1 and torch.allclose(again[0].pred_score.sum(), torch.tensor(1.0))
    # ... and again once training has changed the towers, or weights were loaded
    model.train()
    model.eval()
    model(torch.randn(2, 3, 32, 32), None, mode='predict')
    model.load_state_dict(model.state_dict())
    model(torch.randn(2, 3, 32, 32), None, mode='predict')
    assert len(calls) == 3


def test_export_round_trip_and_identity(tmp_path):
    model = build()
    with torch.no_grad():  # make the weights differ from any fresh initialisation
        model.backbone.clip.logit_scale.fill_(2.5)
        model.backbone.clip.text_projection.mul_(1.7)
    ckpt = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), ckpt)
    state = open_clip_state_dict(ckpt)
    assert set(state) == set(model.backbone.clip.state_dict())
    out = export_open_clip_weights(ckpt, str(tmp_path / 'w' / 'tiny.pth'))
    backbone = MODELS.build(tiny_backbone(pretrained=out))
    for key, value in model.backbone.clip.state_dict().items():
        assert torch.equal(backbone.clip.state_dict()[key], value), key
    identity = backbone.identity['weights']
    assert identity.startswith('file:')
    assert MODELS.build(tiny_backbone(pretrained=out)).identity['weights'] == identity  # stable
    export_open_clip_weights(ckpt, out)  # a re-export at once (same path, size and second) is a new file
    assert MODELS.build(tiny_backbone(pretrained=out)).identity['weights'] != identity
    assert not [f for f in os.listdir(tmp_path / 'w') if f.startswith('.tmp')]
    with pytest.raises(KeyError, match='No weights'):
        open_clip_state_dict(dict(state_dict={'head.x': torch.zeros(1)}))
