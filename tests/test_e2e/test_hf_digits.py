"""tools/test.py runs NegLabel on Hugging Face ALIGN, AltCLIP and GroupViT (tiny random models saved to folders,
tests/hf_tiny.py) offline, from the shipped configs with the backbone, classes, corpus and data swapped: finite
metrics for every OOD set, and per-sample NegLabel scores equal to a computation outside the Runner."""
import csv
import glob
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, load_tool, make_benchmark, make_corpus, run_tool
from hf_tiny import save_tiny
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS

CONFIGS = dict(align='neglabel_align_base', altclip='neglabel_altclip', groupvit='neglabel_groupvit')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """The benchmark (9 ID + 4 + 4 OOD images), a small corpus, and per model a saved tiny model and a config."""
    root = str(tmp_path_factory.mktemp('hf_e2e'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 4))
    corpus = make_corpus(osp.join(root, 'corpus'))
    configs = {}
    for kind, name in CONFIGS.items():
        folder = save_tiny(kind, osp.join(root, kind))
        head = dict(mining=dict(corpus_dir=corpus, neg_ratio=0.3), grouping=dict(ngroup=2))
        text = f'''_base_ = ['{REPO}/configs/neglabel/{name}.py']
model = dict(backbone=dict(model_id='{folder}'), class_names=['zero', 'one', 'two'], head=dict(**{head!r}))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
'''
        path = osp.join(root, f'{name}_tiny.py')
        with open(path, 'w') as f:
            f.write(text)
        configs[kind] = path
    return root, configs


def read_run(work_dir):
    (log_dir, ) = glob.glob(osp.join(work_dir, '2*'))
    with open(osp.join(log_dir, 'metrics.json')) as f:
        record = json.load(f)
    with open(osp.join(log_dir, 'per_sample_results.csv')) as f:
        return log_dir, record, list(csv.DictReader(f))


def direct_neglabel(config, cache_dir):
    """NegLabel scores of every sample, outside the Runner (the same config, model and cache)."""
    cfg = Config.fromfile(config)
    model = MODELS.build(dict(cfg.model.to_dict(), cache_dir=cache_dir)).eval()
    model.prepare()
    ds = DATASETS.build(cfg.test_dataloader.dataset.to_dict())
    scores = []
    for start in range(0, len(ds), 6):
        batch = model.data_preprocessor(pseudo_collate([ds[i] for i in range(start, min(start + 6, len(ds)))]))
        with torch.no_grad():
            samples = model(batch['inputs'], batch['data_samples'], mode='predict')
        scores += [float(s.ood_scores['neglabel']) for s in samples]
    return np.array(scores), model


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_neglabel_runs_on_hf_models(setup, kind):
    root, configs = setup
    work, cache = osp.join(root, f'work_{kind}'), osp.join(root, 'cache')
    metrics = run_tool('test', [configs[kind], '--work-dir', work, '--cache-dir', cache, '--save-features'])
    log_dir, record, rows = read_run(work)
    assert record['set_names'] == ['TinyID', 'Noise', 'Flat'] and record['primary_score'] == 'neglabel'
    for key in ('Noise/AUROC', 'Flat/AUROC', 'mean/AUROC', 'neglabel/Noise/AUROC', 'msp/Flat/AUROC'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 100.0, key
    assert len(rows) == 17
    with open(osp.join(log_dir, 'neglabel_negatives.txt')) as f:
        assert len(f.read().splitlines()) == int(41 * 0.3) + int(12 * 0.3)
    scores, model = direct_neglabel(configs[kind], cache)
    np.testing.assert_allclose([float(r['score_neglabel']) for r in rows], scores, rtol=1e-5, atol=1e-6)
    assert np.ptp(scores) > 0  # the scores separate something: not a constant
    assert model.backbone.model_type == kind
    if kind == 'align':  # its own processor's normalisation ([-1, 1]) went through the Runner's model
        assert model.data_preprocessor.mean.flatten().tolist() == [127.5] * 3


@pytest.mark.parametrize('kind', ['align', 'altclip'])
def test_posthoc_detectors_run_and_rescore_from_the_cache(setup, kind, tmp_path):
    """The post-hoc detectors that shape the pooled feature (ASH, SCALE; GradNorm, GEN) run on the HF models -- with
    AltCLIP's linear projection and without one (ALIGN) -- and tools/score.py re-scores the cached features of the run
    exactly as the run scored the images."""
    root, configs = setup
    config = tmp_path / f'posthoc_{kind}.py'
    config.write_text(f"_base_ = ['{configs[kind]}']\n"
                      "model = dict(extra_heads=[dict(type='GENHead'), dict(type='GradNormHead'), "
                      "dict(type='ASHHead'), dict(type='SCALEHead')])\n")
    cache = osp.join(root, 'cache')
    metrics = run_tool('test', [str(config), '--work-dir', str(tmp_path / 'work'), '--cache-dir', cache,
                                '--save-features'])
    for name in ('gen', 'gradnorm', 'ash', 'scale'):
        assert math.isfinite(metrics[f'{name}/mean/AUROC']), name
    rescored = load_tool('score').main([str(config), '--cache-dir', cache, '--work-dir', str(tmp_path / 'score'),
                                        '--no-plots'])
    assert rescored['metrics'] == pytest.approx(metrics, abs=1e-9)


def test_mcm_on_hf_clip_equals_the_open_clip_run(setup, tmp_path):
    """configs/mcm/mcm_hf_clip_vitb16.py on a tiny HF CLIPModel and configs/mcm/mcm_vitb16.py on the same weights
    converted to open_clip (tools/model_converters/hf_clip_to_open_clip.py) score every image alike."""
    root, configs = setup
    folder = save_tiny('clip', str(tmp_path / 'clip'))
    converted = str(tmp_path / 'converted' / 'tiny_clip.pth')
    model_cfg = load_tool('model_converters/hf_clip_to_open_clip').main([folder, converted])['model_cfg']
    dataset = Config.fromfile(configs['align']).test_dataloader.dataset.to_dict()
    common = (f"model = dict(class_names=['zero', 'one', 'two'], backbone=dict(_delete_=True, **BACKBONE))\n"
              f"test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))\n")
    hf_backbone = dict(type='HFVLMBackbone', model_id=folder)
    oc_backbone = dict(type='OpenCLIPBackbone', model_name='mmood-hf-tiny-clip-e2e', model_cfg=model_cfg,
                       pretrained=converted, activation='quick_gelu')
    rows = {}
    for name, config, backbone in (('hf', 'mcm_hf_clip_vitb16', hf_backbone), ('oc', 'mcm_vitb16', oc_backbone)):
        path = tmp_path / f'{name}.py'
        path.write_text(f"_base_ = ['{REPO}/configs/mcm/{config}.py']\nBACKBONE = {backbone!r}\n" + common)
        run_tool('test', [str(path), '--work-dir', str(tmp_path / name), '--cache-dir', str(tmp_path / 'cache')])
        rows[name] = read_run(str(tmp_path / name))[2]
    assert [r['path'] for r in rows['hf']] == [r['path'] for r in rows['oc']]
    for column in ('score_mcm', 'score_msp', 'score_energy'):
        np.testing.assert_allclose([float(r[column]) for r in rows['hf']], [float(r[column]) for r in rows['oc']],
                                   rtol=1e-5, atol=1e-6)
    assert [r['prediction'] for r in rows['hf']] == [r['prediction'] for r in rows['oc']]
    assert np.ptp([float(r['score_mcm']) for r in rows['hf']]) > 0
