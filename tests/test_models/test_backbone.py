"""The open_clip wrapper: feature views, text side, weights resolution and its errors."""
import logging

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_CFG, TINY_NAME, tiny_backbone
from mmpretrain.registry import MODELS

from mmood.models.backbones import MissingWeightsError, OpenCLIPBackbone, resolve_pretrained


@pytest.fixture(scope='module')
def backbone():
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone())


def test_feature_views(backbone):
    x = torch.randn(3, 3, 32, 32)
    f = backbone.extract_image_features(x, ('global', 'local', 'pre_proj'))
    assert f['global'].shape == (3, 32) and f['local'].shape == (3, 16, 32) and f['pre_proj'].shape == (3, 64)
    torch.testing.assert_close(f['global'].norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(f['local'].norm(dim=-1), torch.ones(3, 16))
    # global == open_clip's own encode_image, normalised; pre_proj projected == global
    torch.testing.assert_close(f['global'], F.normalize(backbone.clip.encode_image(x), dim=-1))
    torch.testing.assert_close(F.normalize(f['pre_proj'] @ backbone.clip.visual.proj, dim=-1), f['global'])
    assert backbone.pre_proj_kind == 'pre_proj'


def test_local_features_value_path(backbone):
    """Local features: last block with attention replaced by its value + output projections (GL-MCM)."""
    v = backbone.clip.visual
    x = torch.randn(2, 3, 32, 32)
    tokens = v._embeds(x)
    for blk in v.transformer.resblocks[:-1]:
        tokens = blk(tokens)
    last = v.transformer.resblocks[-1]
    d = last.attn.embed_dim
    w_v, b_v = last.attn.in_proj_weight[2 * d:], last.attn.in_proj_bias[2 * d:]
    val = last.ln_1(tokens) @ w_v.T + b_v
    y = tokens + last.attn.out_proj(val)
    y = y + last.mlp(last.ln_2(y))
    expected = F.normalize(v.ln_post(y)[:, 1:] @ v.proj, dim=-1)
    torch.testing.assert_close(backbone.extract_image_features(x, ('local', ))['local'], expected)
    # it is not the attention path: differs from the real last block's patch tokens
    real = F.normalize(v.ln_post(last(tokens))[:, 1:] @ v.proj, dim=-1)
    assert (real - expected).abs().max() > 1e-3


def test_text_classifier(backbone):
    single = backbone.build_text_classifier(['cat', 'dog', 'cat'], ['a photo of a {}'])
    torch.testing.assert_close(single[0], single[2])  # duplicates kept, identical rows
    torch.testing.assert_close(single, backbone.encode_text(['a photo of a cat', 'a photo of a dog',
                                                             'a photo of a cat']))
    ens = backbone.build_text_classifier(['cat', 'dog'], ['a {}', 'the {}'])
    manual = F.normalize(backbone.encode_text(['a cat', 'a dog']) + backbone.encode_text(['the cat', 'the dog']),
                         dim=-1)
    torch.testing.assert_close(ens, manual)


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r'Unknown open_clip model name "ViT-B-61".*ViT-B-16'):
        OpenCLIPBackbone(model_name='ViT-B-61')


def test_missing_weights_offline(monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(MissingWeightsError) as err:
        resolve_pretrained('ViT-B-16', 'openai')
    msg = str(err.value)
    assert 'huggingface.co/timm/vit_base_patch16_clip_224.openai' in msg
    assert 'model.backbone.pretrained' in msg
    with pytest.raises(MissingWeightsError, match=r'weights/nowhere.bin.*model.backbone.pretrained'):
        resolve_pretrained('ViT-B-16', 'weights/nowhere.bin')
    with pytest.raises(ValueError, match='Unknown pretrained tag "nonsense"'):
        resolve_pretrained('ViT-B-16', 'nonsense')


def test_local_checkpoint_roundtrip(backbone, tmp_path):
    path = tmp_path / 'tiny.pt'
    torch.save(backbone.clip.state_dict(), path)
    other = OpenCLIPBackbone(model_name=TINY_NAME, pretrained=str(path), model_cfg=TINY_CFG)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(other(x), backbone(x))
    assert other.identity['weights'].startswith('file:') and other.identity['weights'] == \
        OpenCLIPBackbone(model_name=TINY_NAME, pretrained=str(path)).identity['weights']


@pytest.mark.skipif(torch.cuda.is_available(), reason='fallback only without CUDA')
def test_fp16_on_cpu_falls_back(monkeypatch):
    from mmood.models.backbones import base
    logged = []
    monkeypatch.setattr(base, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    b = OpenCLIPBackbone(model_name=TINY_NAME, model_cfg=TINY_CFG, precision='fp16')
    assert b.precision == 'fp32' and b.dtype == torch.float32
    assert any('falling back to fp32' in m and lvl == logging.WARNING for m, lvl in logged)
    with pytest.raises(ValueError, match='precision'):
        OpenCLIPBackbone(model_name=TINY_NAME, model_cfg=TINY_CFG, precision='int8')


def test_the_tokenizer_is_built_once_per_name_and_text_config(backbone):
    import copy
    import open_clip
    from mmood.models.backbones.open_clip_backbone import register_model_config, shared_tokenizer
    texts = ['a photo of a zero.', 'a photo of a one.']
    assert torch.equal(backbone.tokenize(texts), open_clip.get_tokenizer(TINY_NAME)(texts))  # as open_clip's own
    assert OpenCLIPBackbone(**{k: v for k, v in tiny_backbone().items() if k != 'type'}).tokenizer is backbone.tokenizer
    other = copy.deepcopy(TINY_CFG)
    other['text_cfg']['context_length'] = 9
    register_model_config('mmood-test-tokenizer-ctx9', other)
    short = shared_tokenizer('mmood-test-tokenizer-ctx9')
    assert short is not backbone.tokenizer and short(texts).shape == (2, 9)
