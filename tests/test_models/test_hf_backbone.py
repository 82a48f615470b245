"""HFVLMBackbone on tiny random ALIGN, AltCLIP, GroupViT and CLIP models (tests/hf_tiny.py), offline.

Checks: the features are the models' own (``get_image_features`` / ``get_text_features`` called directly), unit
norm, ``pre_proj @ projection == embed``; text batching changes nothing; identities follow the weights; the missing
weights and missing package errors name the fix; an HF CLIPModel converted to open_clip gives open_clip the same
image and text embeddings (tokenizers included); the shipped configs build on the tiny models and their 'hf'
preprocessing presets equal the models' own processors."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, load_tool
from hf_tiny import TINY_CFGS, WRITERS, build_tiny, save_tiny, tiny_swap
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.models.backbones import (HFVLMBackbone, MissingWeightsError, OpenCLIPBackbone, hf_clip_to_open_clip,
                                    register_model_config)
from mmood.models.backbones.hf_convert import HFConversionError, hf_clip_config_to_open_clip
from mmood.utils.errors import ConfigError

KINDS = ('align', 'altclip', 'groupvit', 'clip')
TEXTS = ['a photo of a zero', 'the nice thing12', 'This is a colour3 photo.', 'one', 'the nice two-three!']
#: the shipped configs and the tiny model standing in for their weights
CONFIGS = {'neglabel/neglabel_align_base.py': 'align', 'neglabel/neglabel_altclip.py': 'altclip',
           'neglabel/neglabel_groupvit.py': 'groupvit', 'mcm/mcm_hf_clip_vitb16.py': 'clip'}
REPOS = {'align': 'kakaobrain/align-base', 'altclip': 'BAAI/AltCLIP', 'groupvit': 'nvidia/groupvit-gcc-yfcc',
         'clip': 'openai/clip-vit-base-patch16'}


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """One saved model folder (weights, config, tokenizer) per tiny model, torch seed 0."""
    root = tmp_path_factory.mktemp('hf_tiny')
    return dict({kind: save_tiny(kind, str(root / kind)) for kind in KINDS}, root=str(root))


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline: nothing of any hub repository is on disk."""
    from huggingface_hub import constants
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')


def images(n=3, size=32, seed=0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('kind', KINDS)
def test_features_are_the_models_own(folders, kind, single_thread):
    bb = HFVLMBackbone(model_id=folders[kind])
    model = build_tiny(kind)  # the same seed: the weights of the folder, built independently
    x = images()
    with torch.no_grad():
        feats = bb.extract_image_features(x, ('global', 'pre_proj', 'embed'))
        direct = model.get_image_features(pixel_values=x).pooler_output
    assert set(feats) == {'global', 'pre_proj', 'embed'} and all(v.dtype == torch.float32 for v in feats.values())
    torch.testing.assert_close(feats['embed'], direct, rtol=0, atol=1e-6)
    torch.testing.assert_close(feats['global'], F.normalize(direct, dim=-1), rtol=0, atol=1e-6)
    torch.testing.assert_close(feats['global'].norm(dim=-1), torch.ones(3))
    assert bb.embed_dim == TINY_CFGS[kind]['projection_dim'] == direct.shape[1]
    proj = bb.projection
    if kind in ('clip', 'altclip'):  # one bias-free linear projection after the pooled feature
        width = TINY_CFGS[kind]['vision_config']['hidden_size']
        assert proj.shape == (width, bb.embed_dim) and bb.pre_proj_kind == 'pre_proj'
        assert bb.feature_dim('pre_proj') == width == feats['pre_proj'].shape[1]
        torch.testing.assert_close(feats['pre_proj'] @ proj, feats['embed'], rtol=0, atol=1e-5)
        assert not torch.allclose(feats['pre_proj'][:, :bb.embed_dim], feats['embed'])
    else:  # ALIGN: no projection; GroupViT: an MLP
        assert proj is None and bb.pre_proj_kind == 'post_proj'
        assert torch.equal(feats['pre_proj'], feats['embed'])
    torch.testing.assert_close(bb(x), feats['global'])
    torch.testing.assert_close(bb.encode_image(x, normalize=False), feats['embed'])
    # text: each prompt alone through the tokenizer and get_text_features, vs the batched backbone
    with torch.no_grad():
        batched = bb.encode_text(TEXTS)
        alone = []
        for text in TEXTS:
            enc = bb.tokenizer([text], return_tensors='pt')
            enc = {k: v for k, v in enc.items() if k in ('input_ids', 'attention_mask', 'token_type_ids')}
            if kind in ('clip', 'groupvit'):
                enc.pop('token_type_ids', None)
            alone.append(model.get_text_features(**enc).pooler_output)
        alone = F.normalize(torch.cat(alone), dim=-1)
        swapped = bb.encode_text(TEXTS[::-1], batch_size=2)
    torch.testing.assert_close(batched, alone, rtol=0, atol=1e-5)
    torch.testing.assert_close(batched.norm(dim=-1), torch.ones(len(TEXTS)))
    torch.testing.assert_close(swapped.flip(0), batched, rtol=0, atol=1e-5)  # padding and order change nothing
    assert (batched @ batched.T - torch.eye(len(TEXTS))).abs().max() > 1e-3  # distinct texts, distinct embeddings
    proto = bb.build_text_classifier(['zero', 'one'], ['a photo of a {}', 'the nice {}'])
    assert proto.shape == (2, bb.embed_dim)


def test_logit_scale_and_widths(folders):
    align = HFVLMBackbone(model_id=folders['align'])
    assert float(align.logit_scale) == pytest.approx(1.0 / float(align.model.temperature))  # ALIGN: 1 / temperature
    clip = HFVLMBackbone(model_id=folders['clip'])
    assert float(clip.logit_scale) == pytest.approx(float(clip.model.logit_scale.exp()))
    assert clip.max_length == 77 and align.max_length == 64  # the text towers' position embeddings
    assert HFVLMBackbone(model_id=folders['altclip']).max_length == 40 - 2  # RoBERTa's positions start at pad + 1
    assert HFVLMBackbone(model_id=folders['clip'], max_length=8).max_length == 8
    with pytest.raises(ConfigError, match='feature kind'):
        clip.feature_dim('local')
    with pytest.raises(ValueError, match='local'):
        clip.extract_image_features(images(), ('local', ))


def test_precision(folders):
    full = HFVLMBackbone(model_id=folders['altclip'])
    half = HFVLMBackbone(model_id=folders['altclip'], precision='bf16')
    assert half.dtype == torch.bfloat16 and half.identity != full.identity
    with torch.no_grad():
        a = full.extract_image_features(images(), ('global', ))
        b = half.extract_image_features(images(), ('global', ))
        assert b['global'].dtype == torch.float32
        torch.testing.assert_close(b['global'], a['global'], rtol=0, atol=0.05)
        torch.testing.assert_close(half.encode_text(TEXTS), full.encode_text(TEXTS), rtol=0, atol=0.05)
    if not torch.cuda.is_available():  # fp16 needs a GPU: fp32 instead, said in the log
        assert HFVLMBackbone(model_id=folders['altclip'], precision='fp16').precision == 'fp32'


def test_long_prompts_are_truncated(folders):
    bb = HFVLMBackbone(model_id=folders['align'], max_length=6)
    long = 'the nice ' + ' '.join(['zero'] * 50)
    with torch.no_grad():
        emb = bb.encode_text([long, 'zero'])
    assert emb.shape == (2, bb.embed_dim) and bb.text_inputs([long])['input_ids'].shape[1] == 6


def test_frozen_and_trainable(folders):
    bb = HFVLMBackbone(model_id=folders['groupvit'])
    assert bb.frozen and not any(p.requires_grad for p in bb.parameters())
    bb.train()
    assert not bb.model.training  # frozen: eval mode whatever the runner asks (GroupViT's batch norm stays put)
    free = HFVLMBackbone(model_id=folders['groupvit'], frozen=False)
    assert all(p.requires_grad for p in free.parameters())
    free.train()
    assert free.model.training


def test_identity_follows_the_weights(folders, tmp_path):
    cfg = dict(TINY_CFGS['align'])
    torch.manual_seed(0)
    a = HFVLMBackbone(model_id='tiny-align', model_cfg=cfg, tokenizer=folders['align'])
    torch.manual_seed(0)
    a2 = HFVLMBackbone(model_id='tiny-align', model_cfg=cfg, tokenizer=folders['align'])
    torch.manual_seed(1)
    b = HFVLMBackbone(model_id='tiny-align', model_cfg=cfg, tokenizer=folders['align'])
    assert a.identity == a2.identity and a.identity['weights'].startswith('random:')
    assert a.identity != b.identity  # other random weights, other features
    assert a.pretrained is None
    ident = a.identity
    assert (ident['backbone'], ident['model_id'], ident['model_type'], ident['precision']) == \
        ('HFVLMBackbone', 'tiny-align', 'align', 'fp32')
    assert 'transformers' in ident
    json.dumps(a.text_identity)  # part of cache keys: plain JSON
    assert a.text_identity['tokenizer'].startswith('files:') and a.text_identity['max_length'] == 64
    # loaded weights: the files' identity, which changes when the folder is rewritten
    folder = save_tiny('clip', str(tmp_path / 'clip'), seed=0)
    first = HFVLMBackbone(model_id=folder).identity
    assert first['weights'].startswith('files:') and first == HFVLMBackbone(model_id=folder).identity
    build_tiny('clip', seed=1).save_pretrained(folder)
    assert HFVLMBackbone(model_id=folder).identity['weights'] != first['weights']
    # the tokenizer is part of the text identity only
    other_tok = HFVLMBackbone(model_id=folders['align'], tokenizer=folders['altclip'])
    same = HFVLMBackbone(model_id=folders['align'])
    assert other_tok.identity == same.identity and other_tok.text_identity != same.text_identity


def test_runner_init_weights_keeps_the_weights(folders):
    """mmengine's recursive init_weights (the Runner's, before training) leaves loaded and random-built weights as
    they are, and the identity with them."""
    torch.manual_seed(0)
    built = HFVLMBackbone(model_id='x', model_cfg=TINY_CFGS['groupvit'], tokenizer=folders['groupvit'])
    for bb in (HFVLMBackbone(model_id=folders['groupvit']), built):
        before = {k: v.clone() for k, v in bb.state_dict().items()}
        identity = bb.identity
        bb.init_weights()
        assert all(torch.equal(before[k], v) for k, v in bb.state_dict().items())
        assert bb.identity == identity


def test_model_cfg_needs_a_model_type(folders):
    cfg = {k: v for k, v in TINY_CFGS['align'].items() if k != 'model_type'}
    with pytest.raises(ConfigError, match='model_type'):
        HFVLMBackbone(model_id='x', model_cfg=cfg, tokenizer=folders['align'])
    with pytest.raises(ConfigError, match="unknown transformers model_type 'no-such-model'"):
        HFVLMBackbone(model_id='x', model_cfg=dict(model_type='no-such-model'), tokenizer=folders['align'])
    with pytest.raises(ConfigError, match='precision'):
        HFVLMBackbone(model_id=folders['align'], precision='fp8')


def test_a_vision_only_model_is_refused(tmp_path, folders):
    import transformers
    folder = str(tmp_path / 'vit')
    transformers.CLIPVisionModel(transformers.CLIPVisionConfig(
        **TINY_CFGS['clip']['vision_config'])).save_pretrained(folder)
    with pytest.raises(ConfigError, match='no get_image_features.*dual encoder|no get_text_features.*dual encoder'):
        HFVLMBackbone(model_id=folder, tokenizer=folders['clip'])


def test_wrong_image_size_names_the_pipeline(folders):
    bb = HFVLMBackbone(model_id=folders['clip'])
    with pytest.raises(ConfigError, match='takes 32x32 images.*48x48.*crop_size'):
        bb.extract_image_features(images(size=48))


@pytest.mark.parametrize('kind', KINDS)
def test_missing_weights_name_the_repository_and_files(kind, empty_hf_cache):
    repo = REPOS[kind]
    with pytest.raises(MissingWeightsError) as err:
        HFVLMBackbone(model_id=repo)
    message = str(err.value)
    for part in (f'https://huggingface.co/{repo}', 'config.json', 'model.safetensors or pytorch_model.bin',
                 'tokenizer', 'preprocessor_config.json', 'model.backbone.model_id=', 'HF_HUB_OFFLINE=1'):
        assert part in message, part
    with pytest.raises(MissingWeightsError, match=repo):
        HFVLMBackbone.weights_report(dict(type='HFVLMBackbone', model_id=repo))


def test_missing_files_of_a_folder(tmp_path, folders, empty_hf_cache):
    with pytest.raises(MissingWeightsError, match='no such folder'):
        HFVLMBackbone(model_id=str(tmp_path / 'nowhere'))
    with pytest.raises(MissingWeightsError, match='mmood-test/no-such-model.*neither a local folder nor in the '
                                                  'Hugging Face cache'):
        HFVLMBackbone(model_id='mmood-test/no-such-model')
    half = tmp_path / 'half'
    build_tiny('align').config.save_pretrained(str(half))  # config.json only
    with pytest.raises(MissingWeightsError, match='incomplete.*model.safetensors'):
        HFVLMBackbone(model_id=str(half))
    # weights without a tokenizer: the tokenizer option is named
    build_tiny('align').save_pretrained(str(half))
    with pytest.raises(MissingWeightsError, match='tokenizer vocabulary'):
        HFVLMBackbone(model_id=str(half))
    with pytest.raises(MissingWeightsError, match='model.backbone.tokenizer'):
        HFVLMBackbone(model_id=str(half), tokenizer=str(tmp_path / 'no_tokenizer'))
    assert HFVLMBackbone(model_id=str(half), tokenizer=folders['align']).embed_dim == 32


def test_a_cached_hub_repository_loads_offline(folders, tmp_path, monkeypatch):
    """A repository id resolves to its snapshot in the Hugging Face cache (the layout the hub client writes), with
    nothing downloaded; a snapshot without the weights is reported incomplete."""
    import shutil

    from huggingface_hub import constants
    cache = tmp_path / 'hub'
    commit = '0' * 40
    for repo, files in (('mmood-test/tiny-align', None), ('mmood-test/config-only', ('config.json', 'vocab.txt'))):
        snapshot = cache / f'models--{repo.replace("/", "--")}' / 'snapshots' / commit
        shutil.copytree(folders['align'], snapshot)
        for name in {p.name for p in snapshot.iterdir()} - set(files or ()) if files else ():
            (snapshot / name).unlink()
        (snapshot.parent.parent / 'refs').mkdir()
        (snapshot.parent.parent / 'refs' / 'main').write_text(commit)
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    bb = HFVLMBackbone(model_id='mmood-test/tiny-align')
    assert bb.pretrained == 'mmood-test/tiny-align' and bb.embed_dim == 32
    assert commit in HFVLMBackbone.weights_report(dict(model_id='mmood-test/tiny-align'))
    with pytest.raises(MissingWeightsError, match='mmood-test/config-only.*incomplete in the Hugging Face cache.*'
                                                  'model.safetensors'):
        HFVLMBackbone(model_id='mmood-test/config-only')


def test_weights_report(folders, empty_hf_cache):
    from mmood.apis.verify import check_weights
    line = HFVLMBackbone.weights_report(dict(type='HFVLMBackbone', model_id=folders['clip']))
    assert folders['clip'] in line and 'model.safetensors' in line
    line = HFVLMBackbone.weights_report(dict(type='HFVLMBackbone', model_id='x', model_cfg=TINY_CFGS['align'],
                                             tokenizer=folders['align']))
    assert 'random initialisation' in line and 'align' in line
    import io
    out = io.StringIO()
    assert not check_weights(dict(type='HFVLMBackbone', model_id='kakaobrain/align-base'), out=out)
    assert 'kakaobrain/align-base' in out.getvalue()


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'transformers', None)  # import transformers -> ImportError
    with pytest.raises(ConfigError, match=r'pip install -e \.\[hf\]'):
        HFVLMBackbone(model_id='kakaobrain/align-base')


# ---------------------------------------------------------------------------------------------- HF CLIP = open_clip
def test_hf_clip_converted_equals_open_clip(folders, tmp_path, single_thread):
    """The tiny HF CLIPModel, converted by the tool, loaded by OpenCLIPBackbone: the same embeddings as the HF model
    through HFVLMBackbone, with each side's own tokenizer (open_clip's and the HF CLIPTokenizer give the same ids)."""
    out = str(tmp_path / 'converted' / 'tiny_clip.pth')
    result = load_tool('model_converters/hf_clip_to_open_clip').main([folders['clip'], out])
    model_cfg = result['model_cfg']
    assert model_cfg['quick_gelu'] is True and model_cfg['text_cfg']['context_length'] == 77
    with open(osp.join(osp.dirname(out), 'open_clip_config.json')) as f:
        assert json.load(f)['model_cfg'] == model_cfg
    register_model_config('mmood-hf-tiny-clip', model_cfg)
    oc = OpenCLIPBackbone(model_name='mmood-hf-tiny-clip', pretrained=out, activation='quick_gelu')
    assert oc.activation == 'quick_gelu'
    hf = HFVLMBackbone(model_id=folders['clip'])
    for text in TEXTS:  # the same token ids
        ids = oc.tokenize([text])[0]
        assert hf.tokenizer(text)['input_ids'] == ids[:int((ids != 0).sum())].tolist()
    x = images(4)
    with torch.no_grad():
        a = oc.extract_image_features(x, ('global', 'pre_proj', 'embed'))
        b = hf.extract_image_features(x, ('global', 'pre_proj', 'embed'))
        text_a, text_b = oc.encode_text(TEXTS), hf.encode_text(TEXTS)
    for kind in a:
        torch.testing.assert_close(a[kind], b[kind], rtol=0, atol=1e-5)
    torch.testing.assert_close(text_a, text_b, rtol=0, atol=1e-5)
    torch.testing.assert_close(oc.projection, hf.projection, rtol=0, atol=0)
    assert float(oc.logit_scale) == pytest.approx(float(hf.logit_scale))
    # the activation matters: the same file built with GELU gives other embeddings (the check is not vacuous)
    plain = str(tmp_path / 'plain' / 'tiny_clip.pth')
    load_tool('model_converters/hf_clip_to_open_clip').main([folders['clip'], plain, '--no-config'])
    assert not osp.exists(osp.join(osp.dirname(plain), 'open_clip_config.json'))
    gelu = OpenCLIPBackbone(model_name='mmood-hf-tiny-clip', pretrained=plain, activation='gelu')
    with torch.no_grad():
        assert (gelu.encode_text(TEXTS) - text_b).abs().max() > 1e-4
    with pytest.raises(ConfigError, match='contradicts'):  # the written open_clip_config.json states QuickGELU
        OpenCLIPBackbone(model_name='mmood-hf-tiny-clip', pretrained=out, activation='gelu')


def test_converter_key_map():
    model = build_tiny('clip')
    state = model.state_dict()
    out = hf_clip_to_open_clip(state)
    layer = 'text_model.encoder.layers.1.self_attn.'
    torch.testing.assert_close(out['transformer.resblocks.1.attn.in_proj_weight'],
                               torch.cat([state[layer + f'{p}_proj.weight'] for p in 'qkv']))
    torch.testing.assert_close(out['visual.proj'], state['visual_projection.weight'].T)
    torch.testing.assert_close(out['text_projection'], state['text_projection.weight'].T)
    torch.testing.assert_close(out['visual.ln_pre.weight'], state['vision_model.pre_layrnorm.weight'])
    assert not any('position_ids' in k for k in out)
    assert hf_clip_to_open_clip({f'module.{k}': v for k, v in state.items()}).keys() == out.keys()
    with pytest.raises(HFConversionError, match='not those of a Hugging Face CLIPModel'):
        hf_clip_to_open_clip(dict(state, **{'vision_model.extra.weight': torch.zeros(1)}))
    broken = {k: v for k, v in state.items() if k != layer + 'k_proj.bias'}
    with pytest.raises(HFConversionError, match=r"\['q', 'v'\]"):
        hf_clip_to_open_clip(broken)
    config = model.config.to_dict()
    config['text_config']['hidden_act'] = config['vision_config']['hidden_act'] = 'gelu'
    assert hf_clip_config_to_open_clip(config)['quick_gelu'] is False
    config['vision_config']['hidden_act'] = 'relu'
    with pytest.raises(HFConversionError, match='quick_gelu and gelu'):
        hf_clip_config_to_open_clip(config)


def test_converter_tool_refuses_a_non_clip_folder(folders, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        load_tool('model_converters/hf_clip_to_open_clip').main([folders['align'], str(tmp_path / 'x.pth')])
    assert err.value.code == 2
    assert 'error:' in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_configs_build_on_the_tiny_models(config, folders, empty_hf_cache):
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    kind = CONFIGS[config]
    model_cfg = cfg.model.to_dict()
    assert model_cfg['backbone'] == dict(type='HFVLMBackbone', model_id=REPOS[kind], precision='fp32')
    head = 'NegLabelHead' if config.startswith('neglabel') else 'MCMHead'
    assert model_cfg['head']['type'] == head
    with pytest.raises(MissingWeightsError, match=REPOS[kind]):  # offline without the files: the repository named
        MODELS.build(model_cfg)
    model_cfg['backbone']['model_id'] = folders[kind]
    model = MODELS.build(model_cfg)
    assert isinstance(model.backbone, HFVLMBackbone) and model.backbone.model_type == kind
    (crop, ) = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'CenterCrop']
    assert crop.crop_size == (289 if kind == 'align' else 224)
    mean = model.data_preprocessor.mean.flatten().tolist()
    assert mean == pytest.approx([127.5] * 3 if kind == 'align' else [122.7709383, 116.7460125, 104.09373615])
    swapped = MODELS.build(dict(model_cfg, backbone=tiny_swap(cfg.model.backbone.to_dict(), folders['root'])))
    assert swapped.backbone.model_type == kind and swapped.backbone.pretrained is None  # tests/test_configs.py's swap
    if config.startswith('mcm'):  # MCM's pixels, as configs/mcm/mcm_vitb16.py
        ref = Config.fromfile(osp.join(REPO, 'configs', 'mcm', 'mcm_vitb16.py'))
        assert cfg.test_dataloader.dataset.pipeline == ref.test_dataloader.dataset.pipeline
        assert {k: v for k, v in cfg.model.items() if k != 'backbone'} == \
            {k: v for k, v in ref.model.items() if k != 'backbone'}
    else:  # the head of configs/neglabel/neglabel_vitb16.py
        ref = Config.fromfile(osp.join(REPO, 'configs', 'neglabel', 'neglabel_vitb16.py'))
        assert cfg.model.head == ref.model.head and cfg.model.templates == ref.model.templates


def _run_preset(preset, path):
    from mmengine.dataset import Compose, pseudo_collate
    from mmpretrain.registry import TRANSFORMS
    pipeline = Compose([TRANSFORMS.build(t) for t in preset.pipeline])
    data = pipeline(dict(img_path=path, sample_idx=0, set_id=0, is_ood=False, gt_label=0))
    return MODELS.build(preset.data_preprocessor.to_dict())(pseudo_collate([data]))['inputs'][0]


def test_hf_presets_are_the_models_processors(tmp_path):
    """The 'hf' presets give the pixels of each model's own image processor (settings of its hub repository's
    preprocessor_config.json); CSP's preset differs from them."""
    import transformers
    from PIL import Image
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:400]
    img = np.stack([128 + 100 * np.sin(xx / 23.0 + c) * np.cos(yy / 31.0 - c) for c in range(3)], -1)
    path = str(tmp_path / 'img.png')
    Image.fromarray(np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)).save(path)
    pil = Image.open(path).convert('RGB')
    presets = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'hf_preprocessing.py')).hf_preprocessing
    clip_proc = transformers.CLIPImageProcessor(size={'shortest_edge': 224}, resample=3, crop_size=224,
                                                do_center_crop=True)
    align_proc = transformers.EfficientNetImageProcessor(
        size={'height': 346, 'width': 346}, resample=2, crop_size={'height': 289, 'width': 289}, do_center_crop=True,
        rescale_factor=1 / 127.5, rescale_offset=True, do_normalize=False, include_top=False)
    for kind, proc in (('align', align_proc), ('altclip', clip_proc), ('groupvit', clip_proc), ('clip', clip_proc)):
        ref = torch.as_tensor(proc(pil, return_tensors='pt')['pixel_values'][0])
        ours = _run_preset(presets[kind].hf, path)
        assert ours.shape == ref.shape
        assert (ours - ref).abs().mean() < 5e-4, kind  # rounding of a few pixels to uint8
        csp = _run_preset(presets[kind].csp, path)
        assert csp.shape == ref.shape and (csp - ref).abs().mean() > 1e-2, kind


def test_tokenizer_writers_round_trip(tmp_path):
    """The tests' tiny tokenizers load through AutoTokenizer (what the backbone calls) as their model's kind."""
    import transformers
    for name, cls in (('bert', 'BertTokenizer'), ('xlmr', 'XLMRobertaTokenizer'), ('clip', 'CLIPTokenizer')):
        WRITERS[name](str(tmp_path / name))
        tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / name))
        assert type(tok).__name__ == cls
        ids = tok('the nice zero')['input_ids']
        assert len(ids) == 5 and tok.unk_token_id not in ids[1:-1]  # start, three words, end (CLIP's unk is its end)
