"""Cache keys, validated reads, streamed writes and resumable feature extraction (issue 4)."""
import copy
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from conftest import make_benchmark, tiny_backbone
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

import mmood.cache as cache_mod
from mmood.cache import CacheStore, make_key
from mmood.features import (FEATURE_NAMESPACE, eval_set_sources, extract_features, feature_key_parts,
                            model_identity)

init_default_scope('mmpretrain')


# ---------------------------------------------------------------------------------------------- keys
def _model_id():
    return dict(backbone=dict(model_name='ViT-B-16', pretrained='openai', weights='file:0123456789abcdef',
                              open_clip='3.3.0', precision='fp32'),
                preprocessor=dict(type='ClsDataPreprocessor', mean=[122.7, 116.7, 104.0], std=[68.5, 66.6, 70.3],
                                  channel_conversion=True),
                checkpoint=None)


def _dataset_cfg():
    pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=224, interpolation='bilinear'),
                dict(type='CenterCrop', crop_size=224), dict(type='PackInputs')]
    return dict(type='OODEvalDataset', id_set=dict(name='ImageNet', data_root='data/imagenet/val'),
                ood_sets=[dict(name='iNaturalist', data_root='data/ood/inat', group='far'),
                          dict(name='SSB', ann_file='lists/ssb.txt', group='near')],
                class_names='txtfiles/imagenet_classes.txt', pipeline=pipeline)


def _keys(model_id=None, dataset_cfg=None, kind='global', storage='float32'):
    sources = eval_set_sources(dataset_cfg or _dataset_cfg())
    return [make_key(feature_key_parts(model_id or _model_id(), s, kind, storage)) for s in sources]


def test_feature_keys_stable_and_distinct_per_set():
    first, again = _keys(), _keys()
    assert first == again
    assert len(set(first)) == 3
    # key order inside the parts does not matter
    parts = feature_key_parts(_model_id(), eval_set_sources(_dataset_cfg())[0], 'global')
    assert make_key(dict(reversed(list(parts.items())))) == make_key(parts)


@pytest.mark.parametrize('path, value', [
    (('backbone', 'model_name'), 'ViT-L-14'),
    (('backbone', 'pretrained'), 'laion2b_s34b_b88k'),
    (('backbone', 'weights'), 'file:fedcba9876543210'),
    (('backbone', 'open_clip'), '3.4.0'),
    (('backbone', 'precision'), 'fp16'),
    (('preprocessor', 'mean'), [0.0, 0.0, 0.0]),
    (('preprocessor', 'channel_conversion'), False),
    (('checkpoint', ), 'file:aaaaaaaaaaaaaaaa'),
])
def test_keys_change_with_each_model_part(path, value):
    model_id = copy.deepcopy(_model_id())
    target = model_id
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    assert not set(_keys(model_id)) & set(_keys())


def test_keys_change_with_kind_storage_pipeline_and_data():
    base = _keys()
    assert not set(_keys(kind='local')) & set(base)
    assert not set(_keys(storage='float16')) & set(base)
    cfg = _dataset_cfg()
    cfg['pipeline'][1]['interpolation'] = 'bicubic'
    assert not set(_keys(dataset_cfg=cfg)) & set(base)
    cfg = _dataset_cfg()
    cfg['max_per_set'] = 10
    assert not set(_keys(dataset_cfg=cfg)) & set(base)
    cfg = _dataset_cfg()
    cfg['ood_sets'][0]['data_root'] = 'data/ood/inat_v2'
    changed = _keys(dataset_cfg=cfg)
    assert changed[0] == base[0] and changed[1] != base[1] and changed[2] == base[2]
    cfg = _dataset_cfg()
    cfg['id_set']['folder_order'] = 'txtfiles/imagenet_wnids.txt'
    assert _keys(dataset_cfg=cfg)[0] != base[0]


def test_keys_ignore_display_fields_and_other_sets():
    cfg = _dataset_cfg()
    cfg['ood_sets'][0]['name'] = 'iNat (MOS)'
    cfg['ood_sets'][1]['group'] = 'far'
    cfg['class_names'] = ['a', 'b']  # features do not depend on the class names
    assert _keys(dataset_cfg=cfg) == _keys()
    cfg = _dataset_cfg()
    cfg['ood_sets'].append(dict(name='Textures', data_root='data/ood/dtd'))
    assert _keys(dataset_cfg=cfg)[:3] == _keys()


def test_keys_change_with_format_version(monkeypatch):
    base = _keys()
    monkeypatch.setattr(cache_mod, 'CACHE_FORMAT_VERSION', cache_mod.CACHE_FORMAT_VERSION + 1)
    assert not set(_keys()) & set(base)


# ---------------------------------------------------------------------------------------------- entries
@pytest.fixture
def store(tmp_path):
    return CacheStore(str(tmp_path / 'cache'))


def _save(store, key='k1'):
    arrays = dict(feats=np.arange(24, dtype=np.float32).reshape(6, 4), labels=np.arange(6))
    store.save('features', key, arrays, dict(note='x'))
    return arrays


def test_roundtrip_and_mmap(store):
    arrays = _save(store)
    loaded, meta = store.load('features', 'k1', mmap=True)
    assert isinstance(loaded['feats'], np.memmap)
    np.testing.assert_array_equal(loaded['feats'], arrays['feats'])
    assert meta['note'] == 'x' and meta['arrays']['feats']['shape'] == [6, 4]
    assert store.check('features', 'k1') is None


def _truncate(path):
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) - 8)


def _wrong_shape(path):
    np.save(path, np.zeros((4, 6), dtype=np.float32))  # same byte count, different shape


def _delete_meta(path):
    os.remove(osp.join(osp.dirname(path), 'meta.json'))


def _bad_json(path):
    with open(osp.join(osp.dirname(path), 'meta.json'), 'w') as f:
        f.write('{"arrays": ')


def _missing_array(path):
    os.remove(path)


def _flipped_bytes(path):
    """Same size, shape and dtype: only the checksum can tell."""
    with open(path, 'r+b') as f:
        f.seek(os.path.getsize(path) - 5)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))


def _zeroed_rows(path):
    arr = np.load(path)
    arr[2:4] = 0
    np.save(path, arr)


@pytest.mark.parametrize('damage', [_truncate, _wrong_shape, _delete_meta, _bad_json, _missing_array,
                                    _flipped_bytes, _zeroed_rows])
def test_corrupt_entry_detected_removed_and_rebuilt(store, damage):
    _save(store)
    feats_file = osp.join(store.entry_dir('features', 'k1'), 'feats.npy')
    damage(feats_file)
    assert store.check('features', 'k1') is not None  # read-only check reports it...
    assert osp.isdir(store.entry_dir('features', 'k1'))  # ...and changes nothing
    assert store.load('features', 'k1') is None  # a load never uses it silently
    assert not osp.exists(store.entry_dir('features', 'k1'))
    calls = []

    def compute():
        calls.append(1)
        return dict(x=np.ones(3)), dict(made='again')

    arrays, meta, hit = store.get_or_compute('features', dict(a=1), compute)
    assert not hit and calls == [1]
    np.testing.assert_array_equal(arrays['x'], np.ones(3))


def test_writer_streams_and_aborts(store):
    with store.writer('features', 'big') as writer:
        arr = writer.create_array('feats', (5, 3), 'float16')
        arr[:] = np.arange(15).reshape(5, 3)
        writer.add_array('labels', np.arange(5))
        writer.commit(dict(what='streamed'))
    loaded, meta = store.load('features', 'big')
    assert loaded['feats'].dtype == np.float16 and loaded['feats'][4, 2] == 14
    with pytest.raises(RuntimeError):
        with store.writer('features', 'never') as writer:
            writer.add_array('a', np.ones(2))
            raise RuntimeError('killed')
    assert store.load('features', 'never') is None
    leftovers = [e for e in store.list_entries('features') if e['status'] != 'ok']
    assert leftovers == []


def test_large_entries_are_verified_once_per_change(store, monkeypatch):
    """Feature-sized entries are hashed once after writing (recorded with size and mtime), not on every read; a
    later change of a file is caught at the next read."""
    monkeypatch.setattr(cache_mod, 'VERIFY_EVERY_READ_BYTES', 10)  # every entry counts as large here
    _save(store)
    hashed = []
    original = cache_mod.file_sha256
    monkeypatch.setattr(cache_mod, 'file_sha256', lambda path: hashed.append(path) or original(path))
    for _ in range(3):
        assert store.load('features', 'k1', mmap=True) is not None
    assert len(hashed) == 2  # feats and labels, once
    _zeroed_rows(osp.join(store.entry_dir('features', 'k1'), 'feats.npy'))  # new mtime: verified again
    assert store.load('features', 'k1', mmap=True) is None and not osp.exists(store.entry_dir('features', 'k1'))


def test_nonfinite_payload_refused_naming_the_entry(store):
    bad = np.ones((3, 2), dtype=np.float32)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r'features/nan-key: array "feats" holds 1 NaN or infinite values'):
        store.save('features', 'nan-key', dict(feats=bad, labels=np.arange(3)), dict(set_name='iNaturalist'))
    assert store.load('features', 'nan-key') is None and store.list_entries('features') == []
    store.save('features', 'ints', dict(x=np.arange(3)))  # integer arrays have nothing to check


def _hammer(rank, port, root, rounds):
    store = CacheStore(root)
    payload = dict(emb=np.arange(4096, dtype=np.float32).reshape(64, 64), labels=np.arange(64))
    for i in range(rounds):
        store.save('text_embeddings', 'same-key', payload, dict(writer=rank))
        if i % 10 == 0:
            assert store.load('text_embeddings', 'same-key') is not None


def test_two_processes_writing_one_key(tmp_path):
    """Two processes saving the same key 300 times each: no 'Directory not empty', no torn entry, no leftovers."""
    from conftest import spawn_with_port
    spawn_with_port(_hammer, 2, (str(tmp_path), 300), start_method='fork')
    store = CacheStore(str(tmp_path))
    arrays, meta = store.load('text_embeddings', 'same-key')
    np.testing.assert_array_equal(arrays['emb'].reshape(-1), np.arange(4096))
    assert [e['key'] for e in store.list_entries()] == ['same-key']


def test_list_entries(store):
    _save(store, 'k1')
    os.makedirs(store.partial_dir('features', 'abc'))
    os.makedirs(osp.join(store.root, 'features', 'broken'))
    entries = {e['key']: e for e in store.list_entries()}
    assert entries['k1']['status'] == 'ok' and entries['k1']['bytes'] > 24 * 4
    assert entries['.partial-abc']['status'] == 'partial'
    assert entries['broken']['status'] == 'corrupt'
    assert store.remove('features', 'k1') and not store.remove('features', 'k1')


# ---------------------------------------------------------------------------------------------- resumable extraction
@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('resume'))
    dataset_cfg = make_benchmark(osp.join(root, 'bench'), n_per_class=4, n_ood=(5, 3))  # 12 + 5 + 3
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=dict(type='MCMHead')))
    model.eval()
    dataset = DATASETS.build(dataset_cfg)
    return root, dataset_cfg, model, dataset


class Interrupt(Exception):
    pass


def _entries(store, model, sources, kinds=('global', )):
    out = {}
    for s in sources:
        for k in kinds:
            arrays, _ = store.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_identity(model), s, k)))
            out[s.name, k] = arrays
    return out


def test_interrupted_extraction_resumes(tiny, tmp_path):
    root, dataset_cfg, model, dataset = tiny
    sources = eval_set_sources(dataset_cfg)
    reference = CacheStore(str(tmp_path / 'reference'))
    extract_features(model, dataset, sources, ['global', 'local'], reference, batch_size=3, shard_size=5,
                     progress=False)

    store = CacheStore(str(tmp_path / 'cache'))
    done = []

    def crash_after_first(source, shard):
        done.append((source.name, shard))
        if len(done) == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        extract_features(model, dataset, sources, ['global', 'local'], store, batch_size=3, shard_size=5,
                         progress=False, shard_callback=crash_after_first)
    assert done == [('TinyID', 0)]
    partial = [e for e in store.list_entries(FEATURE_NAMESPACE) if e['status'] == 'partial']
    assert len(partial) == 1 and sorted(os.listdir(partial[0]['path'])) == [
        'shard_000000.global.npy', 'shard_000000.local.npy']
    assert not [e for e in store.list_entries(FEATURE_NAMESPACE) if e['status'] == 'ok']

    computed = []
    report = extract_features(model, dataset, sources, ['global', 'local'], store, batch_size=3, shard_size=5,
                              progress=False, shard_callback=lambda s, i: computed.append((s.name, i)))
    # ID (12 images) has shards 0..2: shard 0 survived the crash; OOD sets have 1 shard each
    assert computed == [('TinyID', 1), ('TinyID', 2), ('Noise', 0), ('Flat', 0)]
    assert {r['status'] for r in report} == {'extracted'}
    assert not [e for e in store.list_entries(FEATURE_NAMESPACE) if e['status'] != 'ok']
    got, want = _entries(store, model, sources, ('global', 'local')), _entries(reference, model, sources,
                                                                               ('global', 'local'))
    for key in want:
        for name in ('feats', 'labels', 'paths_utf8', 'paths_offsets'):
            np.testing.assert_array_equal(got[key][name], want[key][name])
    # everything cached now: nothing is computed
    computed.clear()
    report = extract_features(model, dataset, sources, ['global', 'local'], store, batch_size=3, shard_size=5,
                              progress=False, shard_callback=lambda s, i: computed.append(i))
    assert computed == [] and {r['status'] for r in report} == {'cached'}


def test_corrupt_feature_entry_is_reextracted(tiny, tmp_path):
    root, dataset_cfg, model, dataset = tiny
    sources = eval_set_sources(dataset_cfg)[:1]
    store = CacheStore(str(tmp_path / 'cache'))
    extract_features(model, dataset, sources, ['global'], store, batch_size=4, progress=False)
    key = make_key(feature_key_parts(model_identity(model), sources[0], 'global'))
    before = np.array(store.load(FEATURE_NAMESPACE, key)[0]['feats'])
    _truncate(osp.join(store.entry_dir(FEATURE_NAMESPACE, key), 'feats.npy'))
    report = extract_features(model, dataset, sources, ['global'], store, batch_size=4, progress=False)
    assert report[0]['status'] == 'extracted'
    np.testing.assert_array_equal(store.load(FEATURE_NAMESPACE, key)[0]['feats'], before)


def test_changed_file_list_is_reextracted(tiny, tmp_path):
    root, _, model, _ = tiny
    bench = str(tmp_path / 'bench')
    dataset_cfg = make_benchmark(bench, n_per_class=2, n_ood=(2, 2))
    sources = eval_set_sources(dataset_cfg)
    store = CacheStore(str(tmp_path / 'cache'))
    extract_features(model, DATASETS.build(dataset_cfg), sources, ['global'], store, progress=False)
    shutil.copy(os.path.join(bench, 'ood_b', sorted(os.listdir(osp.join(bench, 'ood_b')))[0]),
                osp.join(bench, 'ood_b', 'extra.png'))
    report = extract_features(model, DATASETS.build(dataset_cfg), sources, ['global'], store, progress=False)
    assert [r['status'] for r in report] == ['cached', 'cached', 'extracted']  # same key, new manifest
    arrays, meta = store.load(FEATURE_NAMESPACE, report[2]['key'])
    assert arrays['feats'].shape[0] == 3 and meta['num_samples'] == 3
    assert json.dumps(meta['key_parts']) and meta['made_by'] == ''
