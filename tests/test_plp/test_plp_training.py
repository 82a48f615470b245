"""Training on cached features: tools/train.py extracts what is missing first (progress bar), and the
CachedFeatureDataset serves the cached rows (order, set selection, targets, batches)."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_pipeline, write_images
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS

from mmood.cache import CacheStore
from mmood.features import CachedFeatureDataset, feature_collate
from mmood.features import MissingFeaturesError, eval_set_sources, extract_features, model_identity

pytestmark = pytest.mark.usefixtures('single_thread')


CLASSES = ['zero', 'one', 'two']


def write_config(root, bench, max_iters=6):
    for c, name in enumerate(CLASSES):
        write_images(osp.join(root, 'train', name), 4, seed=30 + c, kind='stripes')
    train = dict(type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    config = osp.join(root, 'plp_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/plp/plp_vitb16_in1k.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone()!r}), class_names={CLASSES!r})
train_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
val_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters}, extraction=dict(batch_size=5))
param_scheduler = dict(end={max_iters})
default_hooks = dict(checkpoint=dict(interval={max_iters}), logger=dict(interval=2))
''')
    return config


def test_train_py_extracts_missing_features_first(tmp_path, capsys):
    root = str(tmp_path)
    bench = make_benchmark(osp.join(root, 'bench'))
    config = write_config(root, bench)
    cache = osp.join(root, 'cache')
    train = load_tool('train')
    runner = train.main([config, '--work-dir', osp.join(root, 'w1'), '--cache-dir', cache])
    out = capsys.readouterr()
    assert 'ID-train features' in out.err and 'TinyID features' in out.err  # tqdm progress bars
    entries = CacheStore(cache).list_entries('features')
    assert sorted((e['meta']['set_name'], e['meta']['feature']) for e in entries) == [
        ('ID-train', 'pre_proj'), ('TinyID', 'pre_proj')]  # validation reads the ID test set only
    assert osp.isfile(osp.join(root, 'w1', 'iter_6.pth'))
    assert 'val/accuracy/top1' in runner.message_hub.log_scalars  # against the true labels of the ID test set
    assert len(CacheStore(cache).list_entries('pseudo_labels')) == 1
    # a second run finds everything in the cache
    train.main([config, '--work-dir', osp.join(root, 'w2'), '--cache-dir', cache])
    out = capsys.readouterr()
    assert 'features' not in out.err and 'Extracting' not in out.out
    assert 'read from the cache' in out.out


@pytest.fixture(scope='module')
def cached(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = str(tmp_path_factory.mktemp('view'))
    bench = make_benchmark(osp.join(root, 'bench'))  # 9 ID + 4 + 5 OOD
    torch.manual_seed(0)
    model = MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(), class_names=CLASSES)).eval()
    dataset = DATASETS.build(bench)
    store = CacheStore(osp.join(root, 'cache'))
    extract_features(model, dataset, eval_set_sources(bench), ['pre_proj', 'global'], store, batch_size=4,
                     progress=False)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]), False)
    with torch.no_grad():
        direct = model.backbone.extract_image_features(batch['inputs'], ('pre_proj', 'global'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    torch.set_num_threads(threads)
    return dict(bench=bench, model_id=model_identity(model), cache=store.root, direct=direct, infos=infos)


def test_view_rows_order_and_samples(cached):
    view = CachedFeatureDataset(cached['bench'], cached['model_id'], cached['cache'], kinds='pre_proj')
    assert len(view) == 18 and view.metainfo['set_names'] == ('TinyID', 'Noise', 'Flat')
    assert view.metainfo['set_groups'] == ('id', 'far', 'near') and view.metainfo['classes'] == tuple(CLASSES)
    order = [17, 0, 9, 4, 12, 3]  # across set boundaries, unsorted
    batch = view.__getitems__(order)
    np.testing.assert_allclose(batch['inputs'].numpy(), cached['direct']['pre_proj'][order].numpy(), rtol=1e-5,
                               atol=1e-6)
    for i, s in zip(order, batch['data_samples']):
        info = cached['infos'][i]
        assert s.sample_idx == i and s.set_id == info['set_id'] and s.is_ood == info['is_ood']
        assert int(s.gt_label) == info['gt_label'] and s.img_path == info['img_path']
    collated = feature_collate(batch)
    single = feature_collate([view[i] for i in order])
    assert torch.equal(collated['inputs'], single['inputs'])
    assert [s.sample_idx for s in single['data_samples']] == order
    info = view.get_data_info(13)  # what mmengine datasets offer (SaveFeaturesHook, OODResultsHook...)
    assert info == dict(img_path=cached['infos'][13]['img_path'], gt_label=-1, set_id=2, is_ood=1, sample_idx=13)


def test_view_sets_targets_and_kinds(cached):
    ids = CachedFeatureDataset(cached['bench'], cached['model_id'], cached['cache'], sets=['id'], test_mode=False,
                               targets=[2, 1, 0] * 3)
    assert len(ids) == 9 and ids.metainfo['set_names'] == ('TinyID', )
    batch = ids.__getitems__([8, 0])
    assert batch['data_samples'].tolist() == [0, 2]  # training: a label tensor, the given targets
    flat = CachedFeatureDataset(cached['bench'], cached['model_id'], cached['cache'], sets=['Flat'],
                                kinds=('pre_proj', 'global'))
    both = flat.__getitems__([0, 4])
    np.testing.assert_allclose(both['inputs']['global'].numpy(), cached['direct']['global'][[13, 17]].numpy(),
                               rtol=1e-5, atol=1e-6)
    assert flat[0]['data_samples'].set_id == 0  # set ids follow the selected sets
    with pytest.raises(ValueError, match='targets'):
        CachedFeatureDataset(cached['bench'], cached['model_id'], cached['cache'], targets=[0, 1])
    with pytest.raises(ValueError, match='No set'):
        CachedFeatureDataset(cached['bench'], cached['model_id'], cached['cache'], sets=['nope'])
    with pytest.raises(MissingFeaturesError):
        CachedFeatureDataset(cached['bench'], cached['model_id'], cached['cache'], kinds='local')
