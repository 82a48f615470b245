"""Every shipped config whose weights are OpenAI's builds OpenAI's CLIP: the reference is OpenAI's own code.

The reference implementation is ``clip-anytorch`` (OpenAI's ``clip`` package as published): for each architecture
a random model in OpenAI's layout (``clip.model.CLIP`` with OpenAI's initialisation), stored in float16 as OpenAI's
files are, is rebuilt by ``clip.model.build_model`` and by mmood from each config's backbone dict, through the tag
(``pretrained='openai'``, resolved from a Hugging Face hub cache laid out in a temporary folder, offline) and through a
file (``model.backbone.pretrained=<file>``). Image and text embeddings must agree to 1e-5 of their largest value and
the tokens must be equal. The configs are walked, so a new config cannot skip the check; ViT-L/14 and ViT-B/32 are
checked on copies of their open_clip configs with 2 blocks per tower (widths, heads, patch and image sizes kept).
"""
import json
import os
import os.path as osp

import clip
import clip.model
import open_clip
import pytest
import torch
from conftest import config_path, method_configs
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.models.backbones.weights import GELU, QUICK_GELU

CONFIGS = method_configs()
#: architectures checked with 2 blocks per tower instead of their full depth (build time)
#: model -> (image tower layers, text tower layers) of the reduced copies (the same widths, heads and sizes)
REDUCED_DEPTH = {'ViT-L-14': (2, 2), 'ViT-B-32': (2, 2), 'RN50': ([1, 1, 1, 1], 2), 'RN101': ([1, 1, 2, 1], 2)}
TEXTS = ['a photo of a tench.', 'the nice goldfish', 'This is a sandy photo', 'a photo of the digit three']


def _backbone_dicts(node, path='cfg'):
    """Every backbone dict of a config (``model.backbone``, TOE's ``filter_backbone``...), with its path."""
    if isinstance(node, dict):
        if 'model_name' in node and 'pretrained' in node:
            yield path, node
        for key, value in node.items():
            yield from _backbone_dicts(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _backbone_dicts(value, f'{path}[{i}]')


def _real_weight_backbones():
    """(config, path, backbone dict) for every backbone of a shipped config that names an open_clip tag."""
    found = []
    for config in CONFIGS:
        cfg = Config.fromfile(config).to_dict()
        for path, bb in _backbone_dicts(cfg):
            tag = bb.get('pretrained')
            if tag and open_clip.get_pretrained_cfg(bb['model_name'], tag):
                found.append((osp.basename(config), path, dict(bb)))
    return found


REAL = _real_weight_backbones()
OPENAI = [item for item in REAL if item[2]['pretrained'] == 'openai']
#: the distinct OpenAI backbone dicts, each checked once; every config maps onto one of them
DISTINCT = sorted({json.dumps(bb, sort_keys=True) for _, _, bb in OPENAI})


def test_the_walk_finds_the_configs():
    configs = {c for c, _, _ in OPENAI}
    # the zero-shot family, the trained heads and both TOE towers (ViT-B-16 and the caption filter's ViT-B-32)
    for name in ('neglabel_vitb16.py', 'mcm_vitb16.py', 'glmcm_vitb16_openood.py', 'npos_vitb16_in1k.py',
                 'plp_vitl14_in1k.py', 'toe_word_vitb16_in1k.py', 'toe_caption_vitb16_in1k.py'):
        assert name in configs
    assert {json.loads(d)['model_name'] for d in DISTINCT} == {'RN50', 'RN101', 'ViT-B-16', 'ViT-B-32', 'ViT-L-14'}
    assert 'clipn_vitb16_cc3m.py' in {c for c, _, _ in REAL} - configs  # LAION weights: GELU


@pytest.mark.parametrize('config,path,bb', REAL, ids=[f'{c}:{p}' for c, p, _ in REAL])
def test_every_real_weight_config_states_the_activation_its_weights_need(config, path, bb):
    needed = QUICK_GELU if open_clip.get_pretrained_cfg(bb['model_name'], bb['pretrained']).get('quick_gelu') \
        else GELU
    assert bb.get('activation') == needed, f'{config} {path}: state activation={needed!r}'


def _openai_layout_model(model_name):
    """A random CLIP in OpenAI's own implementation, with ``model_name``'s open_clip architecture."""
    cfg = open_clip.get_model_config(model_name)
    v, t = cfg['vision_cfg'], cfg['text_cfg']
    torch.manual_seed(0)
    return clip.model.CLIP(cfg['embed_dim'], v['image_size'], v['layers'], v['width'], v['patch_size'],
                           t['context_length'], t['vocab_size'], t['width'], t['heads'], t['layers'])


@pytest.fixture(scope='module')
def hub(tmp_path_factory, monkeypatch_module):
    """A Hugging Face hub cache in a temporary folder (offline lookups read it) and the OpenAI references."""
    import huggingface_hub.constants
    root = tmp_path_factory.mktemp('openai_parity')
    monkeypatch_module.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(root / 'hub'))
    for name, (image_depth, text_depth) in REDUCED_DEPTH.items():
        cfg = open_clip.get_model_config(name)
        cfg['vision_cfg']['layers'], cfg['text_cfg']['layers'] = image_depth, text_depth
        monkeypatch_module.setitem(open_clip.factory._MODEL_CONFIGS, name, cfg)
    refs = {}

    def reference(model_name):
        if model_name in refs:
            return refs[model_name]
        state = {k: v.half() for k, v in _openai_layout_model(model_name).state_dict().items()}
        weights = str(root / f'{model_name}_openai.pt')
        torch.save(state, weights)
        # the hub repository open_clip resolves the tag to, as huggingface_hub caches it
        repo = open_clip.get_pretrained_cfg(model_name, 'openai')['hf_hub'].strip('/')
        folder = root / 'hub' / ('models--' + repo.replace('/', '--'))
        revision = '0' * 40
        os.makedirs(folder / 'snapshots' / revision)
        os.makedirs(folder / 'refs')
        (folder / 'refs' / 'main').write_text(revision)
        os.symlink(weights, folder / 'snapshots' / revision / 'open_clip_pytorch_model.bin')
        ref = clip.model.build_model(dict(state)).float().eval()  # what clip.load gives on the CPU
        size = ref.visual.input_resolution
        images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
        tokens = clip.tokenize(TEXTS)
        with torch.no_grad():
            refs[model_name] = dict(weights=weights, images=images, tokens=tokens,
                                    image=ref.encode_image(images), text=ref.encode_text(tokens))
        return refs[model_name]

    return reference


@pytest.fixture(scope='module')
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _close(ours, theirs):
    scale = theirs.abs().max()
    return ((ours - theirs).abs().max() / scale).item()


def _check(bb_cfg, ref):
    bb = MODELS.build(dict(dict(type='OpenCLIPBackbone'), **bb_cfg))
    assert bb.activation == QUICK_GELU and bb.identity['activation'] == QUICK_GELU
    assert torch.equal(bb.tokenize(TEXTS), ref['tokens'])
    with torch.no_grad():
        feats = bb.extract_image_features(ref['images'], ('embed', 'global'))
        text = bb.encode_text(TEXTS, normalize=False)
    assert _close(feats['embed'], ref['image']) < 1e-5
    assert _close(feats['global'], ref['image'] / ref['image'].norm(dim=-1, keepdim=True)) < 1e-5
    assert _close(text, ref['text']) < 1e-5


@pytest.mark.parametrize('bb', DISTINCT, ids=lambda d: '{model_name}:{pretrained}:{extra}'.format(
    extra=','.join(f'{k}={v}' for k, v in sorted(json.loads(d).items())
                   if k not in ('type', 'model_name', 'pretrained', 'activation', 'precision')) or 'frozen',
    **json.loads(d)))
def test_openai_configs_equal_openai_clip_by_tag_and_by_file(bb, hub):
    bb = json.loads(bb)
    ref = hub(bb['model_name'])
    _check(bb, ref)  # the tag, through the hub cache
    _check(dict(bb, pretrained=ref['weights']), ref)  # the file the README tells offline users to pass


def _crop_size(pipeline):
    sizes = [t.get('crop_size') for t in pipeline if t.get('type') in ('CenterCrop', 'FusedLoadResizeCrop')]
    return sizes[-1] if sizes else None


#: the model's own tower of each real-weight config (a secondary tower, TOE's caption filter, has its own pipeline)
PRIMARY = [item for item in REAL if item[1] == 'cfg.model.backbone']


@pytest.mark.parametrize('config,path,bb', PRIMARY, ids=[c for c, _, _ in PRIMARY])
def test_every_real_weight_config_feeds_its_model_s_size_and_statistics(config, path, bb):
    """The preprocessing of each real-weight config is its weights' own: the crop is the tower's image size and the
    normalisation is the tag's mean/std (OpenAI's unless the tag says otherwise: ViT-L-14 laion2b uses 0.5)."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    cfg = Config.fromfile(config_path(config[:-3]))
    tag = open_clip.get_pretrained_cfg(bb['model_name'], bb['pretrained'])
    size = open_clip.get_model_config(bb['model_name'])['vision_cfg']['image_size']
    loader = cfg.get('test_dataloader') or cfg.train_dataloader  # a model that only trains (TOE's word decoder)
    crop = _crop_size(loader.dataset.pipeline)
    if crop is not None:
        assert crop == size, f'{config}: crop {crop} vs the image size {size} of {bb["model_name"]}'
    prep = cfg.model.get('data_preprocessor') or {}
    mean = [255 * m for m in tag.get('mean', OPENAI_DATASET_MEAN)]
    std = [255 * s for s in tag.get('std', OPENAI_DATASET_STD)]
    from mmood.models.classifiers.clip_ood import CLIP_MEAN, CLIP_STD  # the classifiers' default
    assert list(prep.get('mean', CLIP_MEAN)) == pytest.approx(mean), config
    assert list(prep.get('std', CLIP_STD)) == pytest.approx(std), config
