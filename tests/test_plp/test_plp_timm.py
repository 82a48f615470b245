"""PLP's non-CLIP baselines end to end on a tiny timm ViT (weights from a checkpoint file), offline, through the tools:
a supervised probe (true labels) trained by tools/train.py on cached features and tested by tools/test.py with KNN,
Mahalanobis and post-hoc detectors beside it -- on cached features and again on the images, with the same scores --
and a fine-tuned model's own head scored with no training."""
import csv
import glob
import json
import os.path as osp

import numpy as np
import pytest
import timm
import torch
from conftest import config_path, make_benchmark, run_tool, tiny_pipeline, write_images
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS
from timm_cases import TINY_ARCH, TINY_VIT, save_tiny_timm, tiny_timm

CLASSES = ['zero', 'one', 'two']
MAX_ITERS = 20
FITTED = [dict(type='KNNHead', feature='pre_proj', k=2), dict(type='MahalanobisHead', feature='pre_proj'),
          dict(type='ReActHead', view='probe')]


def loaders(bench, train):
    # an infinite sampler: mmengine's iteration loop sleeps 2 s at each end of a finite one (12 images: every 2 steps)
    return f'''train_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{train!r}),
                        sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True))
id_train_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
val_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
test_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
'''


def results(work_dir):
    """(metrics, {path: row}) of the one test run in ``work_dir``."""
    (found, ) = glob.glob(osp.join(work_dir, '2*', 'metrics.json'))
    with open(found) as f:
        metrics = json.load(f)['metrics']
    with open(osp.join(osp.dirname(found), 'per_sample_results.csv')) as f:
        return metrics, {r['path']: r for r in csv.DictReader(f)}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors on a busy 2-core machine
    try:
        yield build_runs(str(tmp_path_factory.mktemp('plp_timm')))
    finally:
        torch.set_num_threads(threads)


def build_runs(root):
    bench = make_benchmark(osp.join(root, 'bench'))  # 9 ID + 4 + 5 OOD images
    for c, name in enumerate(CLASSES):
        write_images(osp.join(root, 'train', name), 4, seed=50 + c, kind='stripes')
    train = dict(type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    cache = osp.join(root, 'cache')
    # the supervised probe: PLP's MAE config (z-scored probe, true labels) on the tiny ViT's weights file
    probe_cfg = osp.join(root, 'plp_timm_tiny.py')
    backbone = tiny_timm(checkpoint=save_tiny_timm(osp.join(root, 'tiny.pth')))
    with open(probe_cfg, 'w') as f:
        f.write(f'''_base_ = ['{config_path("plp_mae_vitb16_probe")}']
model = dict(backbone=dict(_delete_=True, **{backbone!r}), class_names={CLASSES!r},
             extra_heads={FITTED + [dict(type='GENHead', logits='probe')]!r})
{loaders(bench, train)}
train_cfg = dict(max_iters={MAX_ITERS}, val_interval={MAX_ITERS}, extraction=dict(batch_size=8))
param_scheduler = dict(end={MAX_ITERS})
default_hooks = dict(checkpoint=dict(interval={MAX_ITERS}), logger=dict(interval=10))
''')
    run_tool('train', [probe_cfg, '--work-dir', osp.join(root, 'train_run'), '--cache-dir', cache])
    checkpoint = osp.join(root, 'train_run', f'iter_{MAX_ITERS}.pth')
    run_tool('test', [probe_cfg, checkpoint, '--cache-dir', cache, '--work-dir', osp.join(root, 'cached')])
    run_tool('test', [probe_cfg, checkpoint, '--cache-dir', cache, '--work-dir', osp.join(root, 'direct'),
                      '--cfg-options', 'test_cfg.type=OODTestLoop'])  # the images through the backbone
    # the fine-tuned head: PLP's fine-tuned config on a tiny ViT with a 3-class head
    head_weights = save_tiny_timm(osp.join(root, 'tiny_head.pth'), num_classes=3, seed=1)
    head_backbone = tiny_timm(checkpoint=head_weights, keep_head=True, model_cfg=dict(TINY_VIT, num_classes=3))
    head_cfg = osp.join(root, 'plp_timm_tiny_finetuned.py')
    with open(head_cfg, 'w') as f:
        f.write(f'''_base_ = ['{config_path("plp_timm_vitb16_in1k_finetuned")}']
model = dict(backbone=dict(_delete_=True, **{head_backbone!r}), class_names={CLASSES!r},
             extra_heads=[dict(type='GENHead', logits='probe', prefix='plp_'),
                          dict(type='ASHHead', view='probe', prefix='plp_')])
{loaders(bench, train)}''')
    run_tool('test', [head_cfg, '--cache-dir', cache, '--work-dir', osp.join(root, 'finetuned')])
    return dict(root=root, bench=bench, checkpoint=checkpoint, head_cfg=head_cfg, head_weights=head_weights)


def test_probe_trained_on_true_labels_and_tested_with_feature_space_detectors(runs):
    ckpt = torch.load(runs['checkpoint'], map_location='cpu', weights_only=False)
    assert set(ckpt['state_dict']) == {'class_counts', 'head.mean', 'head.std', 'head.stats_ready', 'head.fc.weight',
                                       'head.fc.bias'}  # the frozen timm model is not in the checkpoint
    assert ckpt['state_dict']['class_counts'].tolist() == [4, 4, 4]  # the true labels of the 12 training images
    metrics, rows = results(osp.join(runs['root'], 'cached'))
    for score in ('plp_energy', 'plp_msp', 'knn', 'mahalanobis', 'react', 'gen'):
        assert np.isfinite(metrics[f'{score}/mean/AUROC']), score
    assert len(rows) == 18 and 'ID/accuracy' in metrics
    with open(glob.glob(osp.join(runs['root'], 'train_run', '2*', 'pseudo_labels.json'))[0]) as f:
        assert json.load(f)['train_labels'] == 'true'


def test_cached_features_score_as_the_images(runs):
    """tools/test.py on the cached features and on the images (OODTestLoop) give the same scores and metrics."""
    cached, cached_rows = results(osp.join(runs['root'], 'cached'))
    direct, direct_rows = results(osp.join(runs['root'], 'direct'))
    assert set(cached_rows) == set(direct_rows)
    (log, ) = glob.glob(osp.join(runs['root'], 'direct', '2*', '2*.log'))
    with open(log) as f:
        text = f.read()
    assert "type='OODTestLoop'" in text and 'Extracting' not in text  # the images went through the backbone
    columns = [c for c in next(iter(cached_rows.values())) if c.startswith('score_')]
    assert len(columns) == 6
    for path, row in cached_rows.items():
        for column in columns:
            assert float(direct_rows[path][column]) == pytest.approx(float(row[column]), rel=1e-4, abs=1e-5), column
    for key, value in cached.items():
        assert direct[key] == pytest.approx(value, abs=1e-6), key


def test_fine_tuned_head_scores_the_models_logits(runs):
    """No training, no checkpoint: plp_energy / plp_msp are energy and MSP of timm's own forward pass."""
    metrics, rows = results(osp.join(runs['root'], 'finetuned'))
    cfg = Config.fromfile(runs['head_cfg'])
    dataset = DATASETS.build(runs['bench'])
    batch = MODELS.build(cfg.model.data_preprocessor.to_dict())(
        pseudo_collate([dataset[i] for i in range(len(dataset))]), False)
    model = timm.create_model(TINY_ARCH, pretrained=False, num_classes=3, **TINY_VIT).eval()
    model.load_state_dict(torch.load(runs['head_weights']))
    with torch.no_grad():
        logits = model(batch['inputs'])
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    energy = [float(rows[p]['score_plp_energy']) for p in paths]
    msp = [float(rows[p]['score_plp_msp']) for p in paths]
    np.testing.assert_allclose(energy, torch.logsumexp(logits, 1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(msp, logits.softmax(1).amax(1).numpy(), rtol=1e-5, atol=1e-6)
    assert all(np.isfinite(metrics[f'{s}/mean/AUROC']) for s in ('plp_gen', 'plp_ash'))
