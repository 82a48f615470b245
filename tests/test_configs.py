"""Every config under configs/ loads, and its model builds with the backbone swapped for the tiny tower."""
import glob
import os.path as osp

import pytest
from conftest import REPO, tiny_backbone
from mmengine.config import Config
from mmpretrain.registry import MODELS

CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '*.py')))


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    for m in ('neglabel', 'mcm', 'glmcm'):
        assert f'{m}_vitb16.py' in names and f'{m}_vitb16_openood.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'mmood' in cfg.custom_imports['imports']
    model_cfg = cfg.model.to_dict()
    if model_cfg.get('backbone', {}).get('type') == 'OpenCLIPBackbone':
        model_cfg['backbone'] = tiny_backbone()
    model = MODELS.build(model_cfg)
    assert model is not None
    if 'test_dataloader' in cfg and cfg.test_dataloader.dataset.type == 'OODEvalDataset':
        ds = cfg.test_dataloader.dataset
        assert ds.ood_sets and all(s.get('name') for s in ds.ood_sets)


def test_reference_parameters():
    neg = Config.fromfile(osp.join(REPO, 'configs', 'neglabel_vitb16.py'))
    h = neg.model.head
    assert (h.type, h.tau, h.ngroup, h.percentile, h.neg_ratio, h.noun_prompt, h.adj_prompt) == \
        ('NegLabelHead', 0.01, 100, 0.95, 0.15, 'the nice {}', 'This is a {} photo')
    assert neg.model.templates == 'neglabel' and neg.model.backbone.model_name == 'ViT-B-16'
    assert neg.model.backbone.pretrained == 'openai'
    resize = [t for t in neg.test_dataloader.dataset.pipeline if t.type == 'ResizeEdge'][0]
    assert resize.interpolation == 'bilinear' and resize.scale == 224
    gl = Config.fromfile(osp.join(REPO, 'configs', 'glmcm_vitb16.py'))
    assert gl.model.head.local_weight == 0.5 and gl.model.templates == 'mcm'
    oo = Config.fromfile(osp.join(REPO, 'configs', 'neglabel_vitb16_openood.py'))
    groups = {s.name: s.group for s in oo.test_dataloader.dataset.ood_sets}
    assert groups == {'SSB-hard': 'near', 'NINCO': 'near', 'iNaturalist-v1.5': 'far', 'Textures-v1.5': 'far',
                      'OpenImage-O': 'far'}
    assert oo.model.head.type == 'NegLabelHead'
