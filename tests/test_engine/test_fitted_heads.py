"""A post-hoc detector fitted on ID-train features (KNN) as a config head through tools/test.py: the ID-train
features come from the feature cache, extracted once when missing; the run equals a direct computation and
tools/score.py reproduces it from the cache."""
import csv
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_pipeline, tiny_weights
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.evaluation import OODMetric, metrics_of
from mmood.features import load_eval_split, load_train_set, model_identity
from mmood.scores import knn_score


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('knn_head'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    id_train = dict(type='CustomDataset', data_root=osp.join(root, 'bench', 'id'), pipeline=tiny_pipeline())
    body = f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'],
             head=dict(_delete_=True, type='KNNHead', k=2))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
'''
    config = osp.join(root, 'knn_tiny.py')
    with open(config, 'w') as f:
        f.write(body + f'id_train_dataloader = dict(batch_size=4, num_workers=0, dataset={id_train!r})\n')
    no_train = osp.join(root, 'knn_no_train.py')
    with open(no_train, 'w') as f:
        f.write(body)
    return dict(root=root, config=config, no_train=no_train, cache=osp.join(root, 'cache'))


def test_knn_config_head_through_tools_test(setup):
    work = osp.join(setup['root'], 'work')
    metrics = load_tool('test').main([setup['config'], '--work-dir', work, '--cache-dir', setup['cache']])
    cfg = Config.fromfile(setup['config'])
    model = MODELS.build(dict(cfg.model.to_dict(), cache_dir=setup['cache']))
    store = CacheStore(setup['cache'])
    bank = load_train_set(cfg, model_identity(model), store, ['global'])  # extracted by the test run
    assert bank.num_samples == 9 and 'ID-train features for KNNHead' in bank.metas['global']['made_by']
    # the test images themselves, encoded outside the run (the bank holds the ID test images: k=2 is the nearest
    # other image, so the scores are not trivially 0)
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS
    ds = DATASETS.build(cfg.test_dataloader.dataset.to_dict())
    batch = model.data_preprocessor(pseudo_collate([ds[i] for i in range(len(ds))]))
    with torch.no_grad():
        h = model.backbone.extract_image_features(batch['inputs'], ('global', ))['global']
    expected = knn_score(h, torch.from_numpy(np.array(bank.feats['global'])), k=2).numpy()
    log_dir = sorted(glob.glob(osp.join(work, '2*')))[-1]
    with open(osp.join(log_dir, 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose([float(r['score_knn']) for r in rows], expected, rtol=1e-4, atol=1e-6)
    set_ids = np.array([ds.get_data_info(i)['set_id'] for i in range(len(ds))])
    direct = OODMetric.calculate(expected, set_ids, ds.metainfo['set_names'], ds.metainfo['set_groups'])
    for key, value in direct.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    assert metrics_of(metrics, 'msp')  # the base config's extra heads still come along
    # tools/score.py re-scores the same run from the cache (features saved by a second test run)
    load_tool('test').main([setup['config'], '--work-dir', work, '--cache-dir', setup['cache'], '--save-features'])
    result = load_tool('score').main([setup['config'], '--cache-dir', setup['cache'], '--work-dir', work,
                                      '--methods', 'config', '--no-plots'])
    assert result['metrics'] == metrics
    assert load_eval_split(cfg, model_identity(model), store, ['global']).set_names == ['TinyID', 'Noise', 'Flat']


def test_fitted_head_without_id_train_data_says_what_to_add(setup, capsys):
    with pytest.raises(SystemExit) as err:
        load_tool('test').main([setup['no_train'], '--work-dir', osp.join(setup['root'], 'work2'), '--cache-dir',
                                setup['cache']])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith('error: KNNHead fits ID-train statistics, but the config has no `id_train_dataloader`')
    assert 'id_train_dataloader = dict(' in message
