"""CIFAR in mmpretrain's python format as sets of the evaluation dataset (configs/plp_vitb16_cifar*.py), with a
small generated CIFAR: samples, manifests, and features extracted with RGB-preserving preprocessing."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from conftest import REPO, tiny_backbone
from mmengine.config import Config
from mmpretrain.datasets import CIFAR10
from mmpretrain.registry import DATASETS, MODELS

from mmood.cache import CacheStore
from mmood.datasets import collect_set, resolve_sets
from mmood.features import CachedFeatureDataset
from mmood.features import current_manifest_digest, eval_set_sources, extract_features, model_identity


pytestmark = pytest.mark.usefixtures('single_thread')


def write_cifar(root, folder, files, label_key, num_classes, per_file, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, folder))
    for name in files:
        data = rng.integers(0, 256, (per_file, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, num_classes, per_file)]
        with open(osp.join(root, folder, name), 'wb') as f:
            pickle.dump({'data': data, label_key: labels}, f)


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)  # the md5s are those of the real files
    c10, c100 = str(tmp_path / 'cifar10'), str(tmp_path / 'cifar100')
    write_cifar(c10, 'cifar-10-batches-py', [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch'], 'labels', 10,
                4, 0)
    write_cifar(c100, 'cifar-100-python', ['train', 'test'], 'fine_labels', 100, 5, 1)
    small = [dict(type='ResizeEdge', scale=32, edge='short', backend='pillow', interpolation='bicubic'),
             dict(type='CenterCrop', crop_size=32),
             dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))]
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'plp', 'plp_vitb16_cifar10.py'))
    bench = cfg.test_dataloader.dataset.to_dict()
    assert bench['benchmark'] == 'cifar10'  # the sets come from the benchmark table, rooted at benchmark_root
    bench['benchmark_root'] = str(tmp_path)
    bench['pipeline'] = small
    return dict(cfg=cfg, bench=bench, c10=c10, root=str(tmp_path))


def test_cifar_test_splits_are_sets(fake_cifar):
    bench = fake_cifar['bench']
    dataset = DATASETS.build(bench)
    assert len(dataset) == 4 + 5 and dataset.metainfo['set_names'] == ('CIFAR-10', 'CIFAR-100')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [i['set_id'] for i in infos] == [0] * 4 + [1] * 5
    assert all(i['gt_label'] == -1 for i in infos[4:]) and all(0 <= i['gt_label'] < 10 for i in infos[:4])
    assert infos[0]['img'].shape == (32, 32, 3) and infos[0]['img_path'] == f'CIFAR10:{fake_cifar["c10"]}:test#0'
    samples, problems = collect_set(resolve_sets(bench)[0], True, 10)
    assert not problems and samples == [(i['img_path'], i['gt_label']) for i in infos[:4]]
    # the feature cache can re-check these sets' manifests although they have no image files
    for source in eval_set_sources(bench):
        assert current_manifest_digest(source, 10) is not None
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 32, 32) and sample['data_samples'].set_id == 0


def test_cifar_features_keep_rgb(fake_cifar):
    cfg, bench = fake_cifar['cfg'], fake_cifar['bench']
    assert cfg.model.data_preprocessor.to_rgb is False and cfg.train_cfg.max_iters == 19600
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model.to_dict(), backbone=tiny_backbone())).eval()
    dataset = DATASETS.build(bench)
    store = CacheStore(osp.join(fake_cifar['root'], 'cache'))
    extract_features(model, dataset, eval_set_sources(bench), ['pre_proj'], store, batch_size=4, progress=False)
    view = CachedFeatureDataset(bench, model_identity(model), store.root)
    rgb = torch.from_numpy(dataset.get_data_info(0)['img']).permute(2, 0, 1).float()[None]  # 32 px: no resize
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1) * 255
    with torch.no_grad():
        direct = model.backbone.extract_image_features((rgb - mean) / std, ('pre_proj', ))['pre_proj']
    np.testing.assert_allclose(view[0]['inputs'].numpy(), direct[0].numpy(), rtol=1e-4, atol=1e-5)
    assert len(view) == 9 and view.paths()[4].startswith('CIFAR100:')
