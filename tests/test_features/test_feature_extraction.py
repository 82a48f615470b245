"""Feature extraction over the generated benchmark: values, lookup from the config alone, 1 vs 2 processes."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from conftest import make_benchmark, spawn_with_port, tiny_backbone
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from mmood.cache import CacheStore, make_key
from mmood.features import (FEATURE_NAMESPACE, MissingFeaturesError, eval_set_sources,
                            extract_features, feature_key_parts, load_eval_split, load_train_set, model_identity,
                            train_set_source)

init_default_scope('mmpretrain')
CLASSES = ['zero', 'one', 'two']


def build_model(seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=CLASSES,
                              head=dict(type='MCMHead')))
    return model.eval()


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('feat'))
    dataset_cfg = make_benchmark(osp.join(root, 'bench'))  # 9 ID + 4 + 5 OOD
    return root, dataset_cfg


def test_extracted_values_labels_and_paths(bench, tmp_path):
    _, dataset_cfg = bench
    model = build_model()
    dataset = DATASETS.build(dataset_cfg)
    store = CacheStore(str(tmp_path))
    sources = eval_set_sources(dataset_cfg)
    report = extract_features(model, dataset, sources, ['global', 'local', 'pre_proj'], store, batch_size=4,
                              shard_size=4, progress=False, made_by='unit test')
    kinds = ('global', 'local', 'pre_proj')
    assert [(r['set'], r['kind']) for r in report] == [(s.name, k) for s in sources for k in kinds]
    # direct computation: every sample in one batch
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]), False)
    with torch.no_grad():
        direct = model.backbone.extract_image_features(batch['inputs'], ('global', 'local', 'pre_proj'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    model_id = model_identity(model)
    for source in sources:
        rows = [i for i, info in enumerate(infos) if info['set_id'] == source.set_id]
        for kind in ('global', 'local', 'pre_proj'):
            arrays, meta = store.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_id, source, kind)))
            np.testing.assert_allclose(arrays['feats'], direct[kind][rows].numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(arrays['labels'], [infos[i]['gt_label'] for i in rows])
            assert meta['set_name'] == source.name and meta['feature'] == kind and meta['made_by'] == 'unit test'
    assert direct['global'].shape == (18, 32) and direct['local'].shape == (18, 16, 32)
    split = load_eval_split(Config(dict(test_dataloader=dict(dataset=dataset_cfg))), model_id, store, ['global'])
    for source, cached in zip(sources, split.sets):
        assert cached.paths() == [info['img_path'] for info in infos if info['set_id'] == source.set_id]


def test_fp16_storage(bench, tmp_path):
    _, dataset_cfg = bench
    model = build_model()
    dataset = DATASETS.build(dataset_cfg)
    sources = eval_set_sources(dataset_cfg)[:1]
    store = CacheStore(str(tmp_path))
    extract_features(model, dataset, sources, ['global'], store, progress=False)
    extract_features(model, dataset, sources, ['global'], store, storage='float16', progress=False)
    model_id = model_identity(model)
    full = store.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_id, sources[0], 'global')))[0]['feats']
    half = store.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_id, sources[0], 'global',
                                                                    'float16')))[0]['feats']
    assert half.dtype == np.float16 and full.dtype == np.float32
    np.testing.assert_allclose(half.astype(np.float32), full, atol=2e-3)


def test_found_from_config_after_images_are_gone(tmp_path):
    bench = str(tmp_path / 'bench')
    dataset_cfg = make_benchmark(bench, n_per_class=2, n_ood=(2, 3))
    id_train = dict(type='CustomDataset', data_root=osp.join(bench, 'id'), pipeline=dataset_cfg['pipeline'])
    cfg = Config(dict(test_dataloader=dict(dataset=dataset_cfg), id_train_dataloader=dict(dataset=id_train)))
    model = build_model()
    store = CacheStore(str(tmp_path / 'cache'))
    model_id = model_identity(model)
    with pytest.raises(MissingFeaturesError) as err:
        load_eval_split(cfg, model_id, store, ['global'], config_path='my_config.py')
    assert 'tools/extract_features.py my_config.py --splits id_test ood --kinds global' in str(err.value)
    with pytest.raises(MissingFeaturesError, match='--splits id_train'):
        load_train_set(cfg, model_id, store, ['global'], config_path='my_config.py', purpose='knn')
    with pytest.raises(MissingFeaturesError, match='no `id_train_dataloader`'):
        load_train_set(Config(dict(test_dataloader=dict(dataset=dataset_cfg))), model_id, store, ['global'])

    extract_features(model, DATASETS.build(dataset_cfg), eval_set_sources(dataset_cfg), ['global'], store,
                     progress=False)
    extract_features(model, DATASETS.build(id_train), [train_set_source(id_train)], ['global'], store,
                     progress=False)
    before = load_eval_split(cfg, model_id, store, ['global'])
    feats_before = before.rows('global', 0, len(before))
    # a changed file list is refused while the images are there
    shutil.copy(osp.join(bench, 'ood_b', sorted(os.listdir(osp.join(bench, 'ood_b')))[0]),
                osp.join(bench, 'ood_b', 'new.png'))
    with pytest.raises(MissingFeaturesError, match='changed since'):
        load_eval_split(cfg, model_id, store, ['global'])
    os.remove(osp.join(bench, 'ood_b', 'new.png'))

    shutil.rmtree(bench)  # the images are gone: the cache is still found from the config alone
    split = load_eval_split(cfg, model_id, store, ['global'])
    np.testing.assert_array_equal(split.rows('global', 0, len(split)), feats_before)
    assert split.set_names == ['TinyID', 'Noise', 'Flat'] and split.set_groups == ['id', 'far', 'near']
    np.testing.assert_array_equal(split.set_ids, [0] * 6 + [1] * 2 + [2] * 3)
    np.testing.assert_array_equal(split.labels, [0, 0, 1, 1, 2, 2] + [-1] * 5)
    train = load_train_set(cfg, model_id, store, ['global'])
    assert train.feats['global'].shape == (6, 32)
    # batches cross set boundaries and reproduce the rows
    batches = list(split.iter_batches(['global'], 4))
    assert [b['global'].shape[0] for b in batches] == [4, 4, 3]
    np.testing.assert_array_equal(torch.cat([b['global'] for b in batches]).numpy(), feats_before)


def _worker(rank, port, world_size, dataset_cfg, cache_dir):
    torch.set_num_threads(1)
    if world_size > 1:
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                          WORLD_SIZE=str(world_size))
        torch.distributed.init_process_group('gloo', rank=rank, world_size=world_size)
    init_default_scope('mmpretrain')
    model = build_model()
    extract_features(model, DATASETS.build(dataset_cfg), eval_set_sources(dataset_cfg), ['global', 'local'],
                     CacheStore(cache_dir), batch_size=2, shard_size=3, progress=False)
    if world_size > 1:
        torch.distributed.destroy_process_group()


def test_two_processes_equal_one(bench, tmp_path):
    """Shards of 3 over 2 ranks: every rank writes its shards, rank 0 assembles; bitwise equal to one process."""
    _, dataset_cfg = bench
    results = {}
    for world_size in (1, 2):
        cache_dir = str(tmp_path / f'world{world_size}')
        spawn_with_port(_worker, world_size, (world_size, dataset_cfg, cache_dir), start_method='fork')
        store = CacheStore(cache_dir)
        entries = [e for e in store.list_entries(FEATURE_NAMESPACE)]
        assert len(entries) == 6 and {e['status'] for e in entries} == {'ok'}
        results[world_size] = {e['key']: store.load(FEATURE_NAMESPACE, e['key'])[0] for e in entries}
    assert results[1].keys() == results[2].keys()
    for key, arrays in results[1].items():
        for name, arr in arrays.items():
            np.testing.assert_array_equal(results[2][key][name], arr)


def test_the_key_spells_out_the_decoding_defaults():
    """A default left out reads as the default named; another decoding option (or default) is another key."""
    from mmood.features import SetSource

    def key(load):
        pipeline = [load, dict(type='ResizeEdge', scale=32), dict(type='PackInputs')]
        source = SetSource(name='ID', split='id_test', group='id', set_id=0, identity={'root': 'x'},
                           pipeline=pipeline, spec={})
        return make_key(feature_key_parts({'backbone': 'b'}, source, 'global'))

    plain = key(dict(type='LoadOODImage', imdecode_backend='pillow'))
    assert plain == key(dict(type='LoadOODImage', imdecode_backend='pillow', exif_orientation=False, alpha='drop',
                             bit_depth='clip'))
    assert plain != key(dict(type='LoadOODImage', imdecode_backend='pillow', exif_orientation=True))
    assert plain != key(dict(type='LoadOODImage', imdecode_backend='pillow', alpha='composite'))
