"""TimmBackbone: timm's own features (values), weights from a checkpoint file or the Hugging Face cache and their
errors, the refused text side, the preprocessing presets, and the fine-tuned head as a classifier."""
import os
import os.path as osp

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from conftest import REPO, config_path
from mmengine.config import Config
from mmpretrain.registry import MODELS
from PIL import Image
from timm_cases import TINY_ARCH, TINY_CONVNEXT, TINY_VIT, save_tiny_timm, tiny_swap, tiny_timm

from mmood.cache import file_identity
from mmood.models.backbones import MissingWeightsError, TimmBackbone, timm_preprocessing
from mmood.utils.errors import ConfigError

pytestmark = pytest.mark.usefixtures('single_thread')


def reference(state, num_classes=0, arch=TINY_ARCH, cfg=TINY_VIT):
    """An independent timm model of the same architecture holding ``state``."""
    model = timm.create_model(arch, pretrained=False, num_classes=num_classes, **cfg).eval()
    model.load_state_dict(state)
    return model


@pytest.fixture(scope='module')
def backbone():
    torch.manual_seed(0)
    return MODELS.build(tiny_timm())


def test_features_are_timms_own(backbone):
    x = torch.randn(3, 3, 32, 32)
    out = backbone.extract_image_features(x, ('global', 'pre_proj', 'embed'))
    ref = reference(backbone.model.state_dict())
    with torch.no_grad():
        tokens = ref.forward_features(x)
        pre_logits = ref.forward_head(tokens, pre_logits=True)
        by_hand = ref.norm(ref.blocks(ref._pos_embed(ref.patch_embed(x))))[:, 0]  # ViT: class token after the norm
    torch.testing.assert_close(out['pre_proj'], pre_logits)
    torch.testing.assert_close(out['pre_proj'], by_hand)
    torch.testing.assert_close(out['embed'], pre_logits)
    torch.testing.assert_close(out['global'], F.normalize(pre_logits, dim=-1))
    assert out['pre_proj'].dtype == torch.float32 and backbone.embed_dim == backbone.feature_dim('pre_proj') == 32
    assert backbone.projection is None and backbone.pre_proj_kind == 'post_proj' and not backbone.has_text
    assert backbone.identity == dict(backbone='TimmBackbone', model_name=TINY_ARCH, weights='random',
                                     checkpoint_key=None, timm=timm.__version__, precision='fp32', keep_head=False,
                                     model_cfg=TINY_VIT)
    assert not any(p.requires_grad for p in backbone.parameters()) and not backbone.model.training
    with pytest.raises(ValueError, match='logits'):
        backbone.extract_image_features(x, ('logits', ))  # no head kept
    before = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    backbone.init_weights()  # mmengine's Runner calls it before training: timm's own init must not run
    assert all(torch.equal(before[k], v) for k, v in backbone.model.state_dict().items())


def test_convnext_pre_logits_are_pool_and_head_norm():
    torch.manual_seed(0)
    bb = MODELS.build(dict(type='TimmBackbone', model_name='convnext_base', pretrained=False,
                           model_cfg=TINY_CONVNEXT))
    x = torch.randn(2, 3, 32, 32)
    ref = reference(bb.model.state_dict(), arch='convnext_base', cfg=TINY_CONVNEXT)
    with torch.no_grad():
        expected = ref.head.norm(ref.forward_features(x).mean((2, 3), keepdim=True)).flatten(1)
    torch.testing.assert_close(bb.extract_image_features(x, ('pre_proj', ))['pre_proj'], expected)
    assert bb.embed_dim == 32


def test_kept_head_gives_timms_logits(tmp_path):
    path = save_tiny_timm(tmp_path / 'tiny_head.pth', num_classes=5)
    bb = MODELS.build(tiny_timm(checkpoint=path, keep_head=True, model_cfg=dict(TINY_VIT, num_classes=5)))
    x = torch.randn(2, 3, 32, 32)
    out = bb.extract_image_features(x, ('logits', 'pre_proj'))
    with torch.no_grad():
        torch.testing.assert_close(out['logits'], reference(torch.load(path), num_classes=5)(x))
    weight, bias = bb.classifier_head()
    torch.testing.assert_close(out['logits'], out['pre_proj'] @ weight.T + bias)
    assert bb.feature_dim('logits') == bb.num_classes == 5 and 'logits' in bb.feature_kinds
    assert bb.identity['keep_head'] and bb.identity['weights'] == file_identity(path)


def test_checkpoint_under_a_key_with_module_prefix_and_report(tmp_path):
    torch.manual_seed(1)
    model = timm.create_model(TINY_ARCH, pretrained=False, num_classes=0, **TINY_VIT)
    state = {f'module.{k}': v for k, v in model.state_dict().items() if k != 'norm.weight'}
    state['module.fc.weight'] = torch.zeros(4, 32)  # e.g. MSN's projection head: not part of the encoder
    path = str(tmp_path / 'msn_like.pth.tar')
    torch.save(dict(target_encoder=state, epoch=600), path)
    bb = MODELS.build(tiny_timm(checkpoint=path, checkpoint_key='target_encoder'))
    report = bb.load_report
    assert report['missing'] == ['norm.weight'] and report['unexpected'] == ['fc.weight']
    assert (report['loaded'], report['total']) == (len(model.state_dict()) - 1, len(model.state_dict()))
    own = bb.model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in model.state_dict().items() if k != 'norm.weight')
    assert bb.pretrained == path and bb.identity['weights'] == file_identity(path)
    assert bb.identity['checkpoint_key'] == 'target_encoder'
    assert TimmBackbone.weights_report(tiny_timm(checkpoint=path, checkpoint_key='target_encoder')).endswith(
        f'{path} (entry "target_encoder")')
    # the errors: a wrong key, no key for a nested file, no tensor in common, a different architecture
    with pytest.raises(ConfigError, match=r'no entry "model".*target_encoder'):
        MODELS.build(tiny_timm(checkpoint=path, checkpoint_key='model'))
    with pytest.raises(ConfigError, match=r"checkpoint_key.*\['target_encoder'\]"):
        MODELS.build(tiny_timm(checkpoint=path))
    torch.save(dict(model={f'backbone.{k}': v for k, v in model.state_dict().items()}), tmp_path / 'other.pth')
    with pytest.raises(ConfigError, match='None of the .* tensors'):
        MODELS.build(tiny_timm(checkpoint=str(tmp_path / 'other.pth'), checkpoint_key='model'))
    with pytest.raises(ConfigError, match='does not fit timm'):
        MODELS.build(tiny_timm(checkpoint=path, checkpoint_key='target_encoder',
                               model_cfg=dict(TINY_VIT, embed_dim=16)))
    with pytest.raises(MissingWeightsError, match='nowhere.pth'):
        MODELS.build(tiny_timm(checkpoint=str(tmp_path / 'nowhere.pth')))


def test_beit_config_builds_beits_pretraining_layout(tmp_path):
    """The BEiT config's architecture (a shared relative position bias, layer scale, the class token after the final
    norm) takes a file in the layout of BEiT's self-supervised release: only its masked-modelling parts are left."""
    backbone = Config.fromfile(config_path('plp_beit_vitl16_in21k_probe')).model.backbone.to_dict()
    torch.manual_seed(3)
    source = MODELS.build(tiny_swap(backbone)).model
    keys = set(source.state_dict())
    assert {'rel_pos_bias.relative_position_bias_table', 'blocks.0.gamma_1', 'blocks.0.attn.q_bias',
            'blocks.0.attn.v_bias', 'norm.weight'} <= keys
    assert 'pos_embed' not in keys and 'blocks.0.attn.relative_position_bias_table' not in keys
    state = dict(source.state_dict(), mask_token=torch.zeros(1, 1, 32), **{'lm_head.weight': torch.zeros(8, 32)})
    torch.save(dict(model=state), tmp_path / 'beit_pt.pth')
    loaded = MODELS.build(dict(tiny_swap(backbone), checkpoint=str(tmp_path / 'beit_pt.pth'), checkpoint_key='model'))
    assert loaded.load_report['missing'] == [] and sorted(loaded.load_report['unexpected']) == ['lm_head.weight',
                                                                                                'mask_token']
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = source.forward_features(x)[:, 0]  # BEiT's forward_features ends with the final norm
    torch.testing.assert_close(loaded.extract_image_features(x, ('pre_proj', ))['pre_proj'], expected)


def test_names_bare_architecture_refused():
    with pytest.raises(ConfigError, match=r'10 pretrained tags.*vit_base_patch16_224\.augreg_in21k'):
        MODELS.build(dict(type='TimmBackbone', model_name='vit_base_patch16_224'))
    with pytest.raises(ConfigError, match=r'old timm name.*"vit_base_patch16_224\.augreg_in21k"'):
        MODELS.build(dict(type='TimmBackbone', model_name='vit_base_patch16_224_in21k'))
    with pytest.raises(ConfigError, match=r'no pretrained tag "nope"'):
        MODELS.build(dict(type='TimmBackbone', model_name='vit_base_patch16_224.nope'))
    with pytest.raises(ConfigError, match='Unknown timm architecture'):
        TimmBackbone.weights_report(dict(model_name='vit_bsae_patch16_224'))
    # a bare architecture is fine for random weights or a file (its tag's weights are never read)
    assert TimmBackbone.weights_report(tiny_timm()).endswith('random initialisation')


def _hub_cache(root, repo, files):
    """A Hugging Face hub cache holding ``files`` (name -> source path) of ``repo`` at one revision."""
    folder = osp.join(root, 'models--' + repo.replace('/', '--'))
    os.makedirs(osp.join(folder, 'refs'))
    with open(osp.join(folder, 'refs', 'main'), 'w') as f:
        f.write('abc123')
    snap = osp.join(folder, 'snapshots', 'abc123')
    os.makedirs(snap)
    for name, source in files.items():
        os.replace(source, osp.join(snap, name))
    return snap


def test_hub_weights_offline(tmp_path, monkeypatch):
    from huggingface_hub import constants
    from safetensors.torch import save_file
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))
    name = 'vit_base_patch16_224.augreg_in21k'
    with pytest.raises(MissingWeightsError) as err:
        MODELS.build(dict(type='TimmBackbone', model_name=name))
    for part in ('https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k', 'model.safetensors',
                 'model.backbone.checkpoint=/path'):
        assert part in str(err.value)
    with pytest.raises(MissingWeightsError, match='huggingface.co/timm/vit_base_patch16_224.augreg_in21k'):
        TimmBackbone.weights_report(dict(model_name=name))
    # a cached file is found offline and loaded through timm's own loader
    torch.manual_seed(2)
    model = timm.create_model(TINY_ARCH, pretrained=False, num_classes=0, **TINY_VIT)
    save_file(model.state_dict(), str(tmp_path / 'w.safetensors'))
    tag = 'vit_tiny_patch16_224.augreg_in21k'
    snap = _hub_cache(str(tmp_path / 'hub'), f'timm/{tag}', {'model.safetensors': str(tmp_path / 'w.safetensors')})
    bb = MODELS.build(dict(type='TimmBackbone', model_name=tag, model_cfg=TINY_VIT))
    path = osp.join(snap, 'model.safetensors')
    assert bb.identity['weights'] == file_identity(path) and bb.pretrained == tag
    assert all(torch.equal(bb.model.state_dict()[k], v) for k, v in model.state_dict().items())
    assert TimmBackbone.weights_report(dict(model_name=tag)) == f'timm {tag}: {path}'
    # the same file passed as a checkpoint (no key: a timm state dict) gives the same weights
    file_bb = MODELS.build(tiny_timm(checkpoint=path))
    assert all(torch.equal(file_bb.model.state_dict()[k], v) for k, v in model.state_dict().items())


def test_text_side_refused(backbone):
    for call in (lambda: backbone.encode_text(['a photo of a dog']),
                 lambda: backbone.build_text_classifier(['dog'], ['a photo of a {}']),
                 lambda: backbone.tokenize(['dog'])):
        with pytest.raises(ConfigError, match='needs a text tower.*image-only model'):
            call()


@pytest.mark.parametrize('name,user', [('mcm_vitb16', 'MCMHead'), ('neglabel_vitb16', 'NegLabelHead')])
def test_text_methods_refuse_the_backbone(name, user):
    """MCM and NegLabel read text: their configs with TimmBackbone fail with the one-line message."""
    cfg = Config.fromfile(config_path(name)).model.to_dict()
    cfg['backbone'] = tiny_timm()
    model = MODELS.build(cfg)
    with pytest.raises(ConfigError, match=f'{user}.*needs a text tower, and TimmBackbone'):
        model.prepare()


def test_pseudo_labels_refuse_the_backbone():
    with pytest.raises(ConfigError, match=r'LinearProbeClassifier \(zero-shot class logits\) needs a text tower'):
        MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_timm(), class_names=['a', 'b']))


# ---------------------------------------------------------------------------------------------- presets
def _bgr(img: Image.Image) -> np.ndarray:
    return np.asarray(img)[:, :, ::-1].copy()


@pytest.mark.parametrize('preset', ['plp', 'plp_baseline'])
def test_presets_match_plps_torchvision_transforms(preset):
    """The mmpretrain pipeline + data preprocessor of a preset give PLP's torchvision tensors."""
    from mmengine.dataset import Compose
    from torchvision import transforms as T
    pipeline, pre = timm_preprocessing(preset)
    normalize = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    resize = [T.Resize((224, 224), interpolation=T.InterpolationMode.BICUBIC)] if preset == 'plp' else \
        [T.Resize((256, 256)), T.CenterCrop(224)]
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8))
    expected = T.Compose([*resize, T.ToTensor(), normalize])(img)
    steps = Compose(pipeline[1:])  # after loading: the decoded BGR array
    packed = steps(dict(img=_bgr(img), img_shape=(300, 200), ori_shape=(300, 200), sample_idx=0, img_path='x',
                        set_id=0, is_ood=False))
    preprocessor = MODELS.build(pre)
    got = preprocessor(dict(inputs=[packed['inputs']], data_samples=None))['inputs'][0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert pipeline[0] == dict(type='LoadOODImage', imdecode_backend='pillow')


def test_timm_preset_from_the_models_data_config():
    pipeline, pre = timm_preprocessing('timm', 'convnext_base.fb_in22k')
    assert pipeline[1:3] == [dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
                                  interpolation='bicubic'), dict(type='CenterCrop', crop_size=224)]  # crop_pct 0.875
    assert pre['mean'] == [123.675, 116.28, 103.53] and pre['type'] == 'FeatureClsDataPreprocessor'
    pipeline, pre = timm_preprocessing('timm', 'vit_base_patch16_224.augreg_in21k')
    assert pipeline[1]['scale'] == 248 and pre['mean'] == [127.5] * 3 and pre['to_rgb']  # crop_pct 0.9, mean 0.5
    with pytest.raises(ConfigError, match='presets'):
        timm_preprocessing('imagenet')


@pytest.mark.parametrize('name', ['convnext_base.fb_in22k', 'vit_base_patch16_224.augreg_in21k'])
def test_timm_preset_gives_timms_own_eval_transform(name):
    from mmengine.dataset import Compose
    from timm.data import create_transform, resolve_data_config
    from timm.models import get_pretrained_cfg
    expected_transform = create_transform(**resolve_data_config({}, pretrained_cfg=get_pretrained_cfg(name).to_dict()))
    pipeline, pre = timm_preprocessing('timm', name)
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 333, 3), dtype=np.uint8))
    packed = Compose(pipeline[1:])(dict(img=_bgr(img), img_shape=(200, 333), ori_shape=(200, 333), sample_idx=0,
                                        img_path='x', set_id=0, is_ood=False))
    got = MODELS.build(pre)(dict(inputs=[packed['inputs']], data_samples=None))['inputs'][0]
    torch.testing.assert_close(got, expected_transform(img), atol=1e-5, rtol=0)


@pytest.mark.parametrize('preset', ['plp', 'plp_baseline'])
def test_config_bases_hold_the_presets_numbers(preset):
    name = {'plp': 'plp', 'plp_baseline': 'baseline'}[preset]
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', f'plp_imagenet_timm_{name}.py'))
    pipeline, pre = timm_preprocessing(preset)
    assert cfg.model.data_preprocessor.to_dict() == pre
    for loader in ('train_dataloader', 'id_train_dataloader', 'val_dataloader', 'test_dataloader'):
        got = [dict(t) for t in cfg[loader].dataset.pipeline]
        assert got == [{k: (tuple(v) if isinstance(v, list) else v) for k, v in t.items()} for t in pipeline], loader


# ---------------------------------------------------------------------------------------------- the fine-tuned head
def test_pretrained_head_classifier_scores_the_models_logits(tmp_path):
    path = save_tiny_timm(tmp_path / 'head.pth', num_classes=3)
    head = tiny_timm(checkpoint=path, keep_head=True, model_cfg=dict(TINY_VIT, num_classes=3))
    model = MODELS.build(dict(type='PretrainedHeadClassifier', backbone=head, class_names=['a', 'b', 'c'],
                              extra_heads=[dict(type='LogitHead', logits='probe', scores=('msp', ))]))
    x = torch.randn(4, 3, 32, 32)
    feats = model.extract_feat(x)
    logits, scores = model.scores_from_features(feats)
    own = model.backbone.extract_image_features(x, ('logits', ))['logits']
    torch.testing.assert_close(logits, own)
    torch.testing.assert_close(scores['plp_energy'], torch.logsumexp(own, 1))
    torch.testing.assert_close(scores['msp'], own.softmax(1).amax(1))
    assert model.checkpoint_required_prefixes == () and 'fine-tuned head' in model.report_notes()[-1]
    with pytest.raises(ConfigError, match='nothing to train'):
        model.loss(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ConfigError, match='3 classes, but model.class_names has 2 names'):
        MODELS.build(dict(type='PretrainedHeadClassifier', backbone=head, class_names=['a', 'b']))
    with pytest.raises(ConfigError, match='keep_head=True'):
        MODELS.build(dict(type='PretrainedHeadClassifier', backbone=tiny_timm(), class_names=['a', 'b']))


def test_finetuned_config_runs_every_detector_on_the_models_head(tmp_path):
    """The fine-tuned config's detectors (tiny sizes: ViM's dim, NNGuide's bank) prepare, fit on ID-train features
    labelled by the head and score finite numbers; the probe view's W and b are the model's head."""
    torch.manual_seed(0)
    src = timm.create_model(TINY_ARCH, pretrained=False, num_classes=3, **TINY_VIT).eval()
    x = torch.randn(60, 3, 32, 32)
    with torch.no_grad():  # a head whose classes split the (nearly constant) random features
        mean = src.forward_head(src.forward_features(x), pre_logits=True).mean(0)
        src.head.weight.normal_()
        src.head.bias.copy_(-src.head.weight @ mean)
    torch.save(src.state_dict(), tmp_path / 'head.pth')
    cfg = Config.fromfile(config_path('plp_timm_vitb16_in1k_finetuned')).model.to_dict()
    backbone = dict(tiny_swap(cfg['backbone']), checkpoint=str(tmp_path / 'head.pth'))
    backbone['model_cfg']['num_classes'] = 3
    cfg.update(backbone=backbone, class_names=['a', 'b', 'c'])
    tiny = dict(ViMHead=dict(dim=16), NNGuideHead=dict(k=5, alpha=0.5))
    cfg['extra_heads'] = [dict(h, **tiny.get(h['type'], {})) for h in cfg['extra_heads']]
    model = MODELS.build(cfg).eval()
    model.prepare()
    feats = model.extract_feat(x)
    labels = model.class_logits(feats).argmax(1)
    assert (labels.bincount(minlength=3) > 0).all()  # every class predicted (SHE stores a pattern per class)
    model.fit_heads(feats, labels)
    logits, scores = model.scores_from_features(model.extract_feat(torch.randn(5, 3, 32, 32)))
    assert len(scores) == 13 and all(torch.isfinite(v).all() for v in scores.values())
    view = model.extra_heads[3].view  # ReAct's
    torch.testing.assert_close(view.weight, src.head.weight.double())
    torch.testing.assert_close(view.bias, src.head.bias.double())
