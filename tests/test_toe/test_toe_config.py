"""The ImageNet description-level config's path on generated image folders and the tiny tower: tools/train.py writes
the outliers from a descriptor JSON and trains on cached features, tools/test.py scores from the cache
(CachedFeatureTestLoop) with the head's energy of CLIP's raw image embedding, and tools/score.py re-scores the
cached features to the same numbers beside zero-shot methods."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, load_tool, make_benchmark, run_results, run_tool, tiny_backbone, tiny_pipeline, \
    tiny_weights, write_images
from mmengine.config import Config

from mmood.features.runtime import build_model

CLASSES = ['zero', 'one', 'two']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toe_config'))
    bench = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    for c, name in enumerate(CLASSES):
        write_images(osp.join(root, 'train', name), 6, seed=20 + c, kind='stripes')
    descriptors = osp.join(root, 'descriptors.json')
    with open(descriptors, 'w') as f:
        json.dump({'zero': ['a round shape', 'a loop'], 'one': ['a straight line'], 'two': ['a curve with a base']}, f)
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    train = dict(type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    config = osp.join(root, 'toe_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/toe/toe_description_vitb16_in1k.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names={CLASSES!r},
             outliers=dict(source={descriptors!r}))
train_dataloader = dict(batch_size=6, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
id_train_dataloader = dict(batch_size=6, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
test_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
train_cfg = dict(epochs=5, extraction=dict(batch_size=8))
''')
    cache, work, test_work = (osp.join(root, d) for d in ('cache', 'work', 'test'))
    run_tool('train', [config, '--work-dir', work, '--cache-dir', cache])
    checkpoint = osp.join(work, 'iter_5.pth')  # 4 descriptors x 5 strings = 20 outliers: 1 batch per epoch
    run_tool('test', [config, checkpoint, '--work-dir', test_work, '--cache-dir', cache])
    return dict(config=config, cache=cache, work=work, checkpoint=checkpoint, results=run_results(test_work))


def test_outliers_training_and_test_scores(run):
    with open(osp.join(run['work'], 'toe_outliers_description.txt')) as f:
        listed = [line.rstrip('\n') for line in f if not line.startswith('#')]
    assert len(listed) == 20 and 'This is a photo of the small This is a photo of a round shape' in listed
    metrics, rows = run['results']
    assert len(rows) == 9 + 4 + 5
    cfg = Config.fromfile(run['config'])
    cfg.model.cache_dir = run['cache']
    model = build_model(cfg, run['checkpoint']).eval()
    assert int(model.outlier_step) == 5
    # the test run's scores are the head's energy of CLIP's raw image embedding of each image
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]), False)
    with torch.no_grad():
        raw = model.backbone.encode_image(batch['inputs'], normalize=False)
        logits = model.head.fc(raw)
    np.testing.assert_allclose([float(r['score_toe_energy']) for r in rows], torch.logsumexp(logits, 1).numpy(),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose([float(r['score_toe_maxlogit']) for r in rows], logits.amax(1).numpy(), rtol=1e-5,
                               atol=1e-5)
    assert metrics['mean/AUROC'] == metrics['toe_energy/mean/AUROC']  # energy is the primary score


def test_score_py_reproduces_the_test_run_beside_zero_shot(run, capsys):
    metrics, _ = run['results']
    load_tool('extract_features').main([run['config'], '--cache-dir', run['cache'], '--kinds', 'global',
                                        '--no-progress'])  # the zero-shot methods read projected unit features
    result = load_tool('score').main([run['config'], run['checkpoint'], '--cache-dir', run['cache'], '--work-dir',
                                      run['work'], '--methods', 'config', 'mcm', 'energy', '--no-plots'])
    printed = capsys.readouterr().out
    assert 'OOD metrics of score toe_energy' in printed and 'mcm: mean AUROC' in printed
    assert 'energy: mean AUROC' in printed  # the zero-shot energy beside the probe's toe_energy
    for key, value in metrics.items():
        assert result['metrics'][key] == pytest.approx(value, abs=1e-6), key
