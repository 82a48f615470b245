"""Partial fine-tuning of the image tower (``trainable_blocks``, NPOS): the frozen trunk's tokens, the trainable
tail on them, the ``tokens`` feature kind, gradients and modes, and the errors."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_CFG, TINY_NAME, make_benchmark, tiny_backbone
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from mmood.cache import CacheStore, make_key
from mmood.features import FEATURE_NAMESPACE, eval_set_sources, extract_features, feature_key_parts, model_identity
from mmood.models.backbones import OpenCLIPBackbone
from mmood.models.backbones.open_clip_backbone import list_feature_kinds
from mmood.models.classifiers.plp import is_feature_batch
from mmood.utils.errors import ConfigError

init_default_scope('mmpretrain')
NUM_TOKENS, WIDTH = 17, 64  # tiny tower: (32 / 8) ** 2 patches + the class token, width 64
BLOCK_PARAMS = ('ln_1.weight', 'ln_1.bias', 'attn.in_proj_weight', 'attn.in_proj_bias', 'attn.out_proj.weight',
                'attn.out_proj.bias', 'ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias',
                'mlp.c_proj.weight', 'mlp.c_proj.bias')


def build(n, state=None):
    torch.manual_seed(0)
    backbone = MODELS.build(tiny_backbone(frozen=False, trainable_blocks=n) if n else tiny_backbone())
    if state is not None:
        backbone.clip.load_state_dict(state)
    return backbone


@pytest.fixture(scope='module')
def frozen():
    return build(0)


@pytest.fixture(scope='module')
def images():
    torch.manual_seed(1)
    return torch.randn(3, 3, 32, 32)


def encode(backbone, x):
    """open_clip's own forward, normalised."""
    return F.normalize(backbone.clip.encode_image(x).float(), dim=-1)


def expected_trainable(n):
    blocks = [f'clip.visual.transformer.resblocks.{b}.{p}' for b in range(2 - n, 2) for p in BLOCK_PARAMS]
    return sorted(blocks + ['clip.visual.ln_post.weight', 'clip.visual.ln_post.bias', 'clip.visual.proj'])


def test_no_trainable_blocks_unchanged(frozen, images):
    """trainable_blocks=0 (default): global is open_clip's encode_image bit for bit; ``tokens`` is the output of
    the last block; the identity (cache keys) has no trainable_blocks entry."""
    with torch.no_grad():
        feats = frozen.extract_image_features(images, ('global', 'tokens'))
        assert torch.equal(feats['global'], encode(frozen, images))
        assert torch.equal(feats['tokens'], frozen.trunk_tokens(images))
        assert torch.equal(frozen.tokens_to_features(feats['tokens'])['global'], feats['global'])
    assert feats['tokens'].shape == (3, NUM_TOKENS, WIDTH) and feats['tokens'].dtype == torch.float32
    assert 'trainable_blocks' not in frozen.identity and frozen.trainable_blocks == 0
    assert not any(p.requires_grad for p in frozen.parameters())
    assert 'tokens' in list_feature_kinds()


@pytest.mark.parametrize('n', [1, 2])
def test_token_path_equals_image_path(frozen, images, n):
    """Cached-token path == full-image path == open_clip's forward, bit for bit, in each mode and grad state (the
    nn.MultiheadAttention fast path of eval + no_grad differs from the slow path by ~1e-7, so like is compared with
    like); in eval + no_grad it equals the frozen backbone's features too."""
    backbone = build(n, frozen.clip.state_dict())
    for mode in (True, False):
        backbone.train(mode)
        for grad in (True, False):
            with torch.set_grad_enabled(grad):
                tokens = backbone.trunk_tokens(images)
                from_tokens = backbone.tokens_to_features(tokens, ('global', 'pre_proj', 'embed'))
                full = backbone.extract_image_features(images, ('global', 'pre_proj', 'tokens'))
                reference = encode(backbone, images)
            assert not tokens.requires_grad and tokens.shape == (3, NUM_TOKENS, WIDTH)
            assert torch.equal(from_tokens['global'], full['global']), (mode, grad)
            assert torch.equal(from_tokens['global'], reference), (mode, grad)
            assert torch.equal(from_tokens['pre_proj'], full['pre_proj'])
            assert torch.equal(full['tokens'], tokens)
            assert torch.equal(F.normalize(from_tokens['embed'], dim=-1), from_tokens['global'])
    with torch.no_grad():
        kinds = ('global', 'local', 'pre_proj')
        ours, theirs = backbone.extract_image_features(images, kinds), frozen.extract_image_features(images, kinds)
    for kind in kinds:
        assert torch.equal(ours[kind], theirs[kind]), kind


@pytest.mark.parametrize('n', [1, 2])
def test_fp16_token_round_trip(frozen, images, n):
    """Tokens cached in float16 (as NPOS stores them) give nearly the same embedding."""
    backbone = build(n, frozen.clip.state_dict()).eval()
    with torch.no_grad():
        tokens = backbone.trunk_tokens(images)
        exact = backbone.tokens_to_features(tokens)['global']
        rounded = backbone.tokens_to_features(tokens.half())['global']
    diff = (rounded - exact).abs().max().item()
    assert 0 < diff < 1e-3, diff  # ~1e-4 on the random tiny tower
    assert (rounded * exact).sum(-1).min() > 1 - 1e-6


@pytest.mark.parametrize('n', [1, 2])
def test_requires_grad_and_backward(frozen, images, n):
    """Exactly the last n blocks, ln_post and proj train; a backward from tokens_to_features reaches all of them
    and nothing else."""
    backbone = build(n, frozen.clip.state_dict()).train()
    assert sorted(k for k, p in backbone.named_parameters() if p.requires_grad) == expected_trainable(n)
    out = backbone.tokens_to_features(backbone.trunk_tokens(images))
    torch.manual_seed(2)
    loss = (out['global'] * torch.randn_like(out['global'])).sum() + out['pre_proj'].pow(2).mean()
    loss.backward()
    reached = sorted(k for k, p in backbone.named_parameters() if p.grad is not None)
    assert reached == expected_trainable(n)
    assert all(p.grad.abs().sum() > 0 for p in backbone.parameters() if p.grad is not None)
    # the full-image path reaches the same parameters
    backbone.zero_grad(set_to_none=True)
    backbone.extract_image_features(images, ('global', ))['global'].sum().backward()
    assert sorted(k for k, p in backbone.named_parameters() if p.grad is not None) == expected_trainable(n)


@pytest.mark.parametrize('n', [1, 2])
def test_trunk_stays_in_eval_mode(n):
    backbone = build(n)
    visual = backbone.clip.visual
    trainable = list(visual.transformer.resblocks[-n:]) + [visual.ln_post]
    inside = {id(m) for t in trainable for m in t.modules()}
    for mode in (True, False, True):
        backbone.train(mode)
        assert backbone.training is mode
        assert all(m.training is mode for t in trainable for m in t.modules())
        assert not any(m.training for m in backbone.clip.modules() if id(m) not in inside)
    backbone.eval()
    assert not any(m.training for m in backbone.modules())


def test_identity_names_the_cut(frozen):
    one, two = build(1), build(2)
    assert one.identity['trainable_blocks'] == 1 and two.identity['trainable_blocks'] == 2
    assert one.text_identity == two.text_identity == frozen.text_identity


def test_configuration_errors():
    with pytest.raises(ConfigError, match=r'trainable_blocks=3, but the image tower of mmood-tiny-vit has only 2'):
        OpenCLIPBackbone(model_name=TINY_NAME, model_cfg=TINY_CFG, frozen=False, trainable_blocks=3)
    with pytest.raises(ConfigError, match=r'trainable_blocks=2 .*frozen=True.*set model.backbone.frozen=False'):
        OpenCLIPBackbone(model_name=TINY_NAME, model_cfg=TINY_CFG, trainable_blocks=2)
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match='integer >= 0'):
            OpenCLIPBackbone(model_name=TINY_NAME, model_cfg=TINY_CFG, frozen=False, trainable_blocks=bad)


AVG_CFG = dict(TINY_CFG, vision_cfg=dict(TINY_CFG['vision_cfg'], pool_type='avg'))
ATTN_POOL_CFG = dict(TINY_CFG, vision_cfg=dict(TINY_CFG['vision_cfg'], attentional_pool=True,
                                               attn_pooler_queries=4, attn_pooler_heads=2))
RESNET_CFG = dict(TINY_CFG, vision_cfg=dict(image_size=32, layers=[1, 1, 1, 1], width=8, head_width=64))


@pytest.mark.parametrize('name,cfg,problem', [
    ('mmood-tiny-vit-avgpool', AVG_CFG, "pool_type='avg'"),
    ('mmood-tiny-vit-attnpool', ATTN_POOL_CFG, 'attentional pooler'),
    ('mmood-tiny-resnet', RESNET_CFG, 'ModifiedResNet, not an open_clip VisionTransformer'),
])
def test_unsupported_towers(name, cfg, problem, images):
    with pytest.raises(ConfigError, match=f'standard CLS-token open_clip ViT.*{name}: .*{problem}'):
        OpenCLIPBackbone(model_name=name, model_cfg=cfg, frozen=False, trainable_blocks=1)
    frozen = OpenCLIPBackbone(model_name=name, model_cfg=cfg)  # trainable_blocks=0: works as before
    assert frozen.extract_image_features(images, ('global', ))['global'].shape == (3, 32)
    with pytest.raises(ConfigError, match=problem):
        frozen.extract_image_features(images, ('tokens', ))
    with pytest.raises(ConfigError, match=problem):
        frozen.trunk_tokens(images)


def test_is_feature_batch():
    assert is_feature_batch(torch.zeros(4, 32))  # (B, D)
    assert is_feature_batch(torch.zeros(4, NUM_TOKENS, WIDTH))  # (B, L, W) tokens
    assert is_feature_batch(torch.zeros(4, 3, WIDTH))  # tokens whose L happens to be 3
    assert is_feature_batch(torch.zeros(4, 3, 32).half())
    assert is_feature_batch({'tokens': torch.zeros(4, NUM_TOKENS, WIDTH), 'global': torch.zeros(4, 32)})
    assert not is_feature_batch(torch.zeros(4, 3, 32, 32))  # (B, 3, H, W) images
    assert not is_feature_batch(torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    assert not is_feature_batch([torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2)  # before collation


def test_tokens_in_feature_cache(tmp_path, frozen):
    """The feature cache stores the ``tokens`` kind (float16 storage, as NPOS), and the trainable tail on the
    cached tokens reproduces the image path's global to float16 precision."""
    dataset_cfg = make_benchmark(osp.join(str(tmp_path), 'bench'))
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(frozen=False, trainable_blocks=2),
                              class_names=['zero', 'one', 'two'], head=dict(type='MCMHead'))).eval()
    dataset = DATASETS.build(dataset_cfg)
    store = CacheStore(str(tmp_path / 'cache'))
    sources = eval_set_sources(dataset_cfg)[:1]
    extract_features(model, dataset, sources, ['tokens', 'global'], store, storage='float16', batch_size=4,
                     shard_size=4, progress=False)
    model_id = model_identity(model)
    assert model_id['backbone']['trainable_blocks'] == 2
    tokens, meta = store.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_id, sources[0], 'tokens',
                                                                            'float16')))
    cached_global, _ = store.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_id, sources[0], 'global',
                                                                                'float16')))
    assert tokens['feats'].shape == (9, NUM_TOKENS, WIDTH) and tokens['feats'].dtype == np.float16
    assert meta['feature'] == 'tokens'
    with torch.no_grad():
        again = model.backbone.tokens_to_features(torch.from_numpy(np.asarray(tokens['feats'])))['global']
    assert np.abs(again.numpy() - np.asarray(cached_global['feats'], dtype=np.float32)).max() < 2e-3
