"""Cache writes under concurrency: per-run in-progress folders, entry locks, two extractions of one entry at once,
and resuming after kill -9."""
import json
import multiprocessing
import os
import os.path as osp
import time

import numpy as np
import pytest
import torch
from conftest import gloo_group, make_benchmark, spawn_with_port, tiny_backbone
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from mmood.cache import CacheStore, make_key
from mmood.features import FEATURE_NAMESPACE, eval_set_sources, extract_features, feature_key_parts, model_identity

init_default_scope('mmpretrain')
KW = dict(batch_size=3, shard_size=5, progress=False)  # TinyID: 12 images in 3 shards; Noise and Flat: 1 each


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('concurrent'))
    dataset_cfg = make_benchmark(osp.join(root, 'bench'), n_per_class=4, n_ood=(5, 3))
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=dict(type='MCMHead'))).eval()
    dataset = DATASETS.build(dataset_cfg)
    sources = eval_set_sources(dataset_cfg)
    reference = CacheStore(osp.join(root, 'reference'))
    extract_features(model, dataset, sources, ['global', 'local'], reference, **KW)
    return dict(model=model, dataset=dataset, sources=sources, reference=reference)


def _same_entries(store, tiny, kinds):
    model_id = model_identity(tiny['model'])
    for source in tiny['sources']:
        for kind in kinds:
            key = make_key(feature_key_parts(model_id, source, kind))
            got, want = store.load(FEATURE_NAMESPACE, key)[0], tiny['reference'].load(FEATURE_NAMESPACE, key)[0]
            for name in ('feats', 'labels', 'paths_utf8', 'paths_offsets'):
                np.testing.assert_array_equal(got[name], want[name])


def _nothing_left_over(store):
    """Only entries: no in-progress folder, temporary directory or lock file."""
    base = osp.join(store.root, FEATURE_NAMESPACE)
    assert [e['key'] for e in store.list_entries() if e['status'] != 'ok'] == []
    assert [n for n in os.listdir(base) if n.startswith('.')] == []


# ---------------------------------------------------------------------------------------------- names and locks
def test_in_progress_folders_are_per_run_not_per_second(tmp_path):
    """The same label twice within one second (two runs with the same timestamp): two different, new folders;
    the resumable folder of one piece of work stays one name."""
    store = CacheStore(str(tmp_path))
    stamp = time.strftime('%Y%m%d_%H%M%S')
    first, second = (store.new_partial_dir(FEATURE_NAMESPACE, f'test-run-{stamp}') for _ in range(2))
    assert first != second and osp.isdir(first) and osp.isdir(second)
    assert f'-{os.getpid()}-' in osp.basename(first) and osp.basename(first).startswith(f'.partial-test-run-{stamp}-')
    assert store.partial_dir(FEATURE_NAMESPACE, 'k') == store.partial_dir(FEATURE_NAMESPACE, 'k')
    assert {e['status'] for e in store.list_entries()} == {'partial'}  # listed (and cleaned) as unfinished work


def _hold_then_die(path, held):
    from mmood.cache import CacheLock
    CacheLock(path).acquire()
    held.set()
    time.sleep(60)  # killed with SIGKILL by the test


def test_lock_is_exclusive_and_dies_with_its_process(tmp_path):
    store = CacheStore(str(tmp_path))
    lock = store.lock(FEATURE_NAMESPACE, 'key')
    held = multiprocessing.get_context('fork').Event()
    child = multiprocessing.get_context('fork').Process(target=_hold_then_die, args=(lock.path, held))
    child.start()
    try:
        assert held.wait(60)
        assert not lock.acquire(blocking=False)
        assert lock.holder().endswith(f' {child.pid}')
    finally:
        child.kill()  # kill -9: no cleanup, the lock file stays
        child.join()
    assert osp.exists(lock.path)
    assert lock.acquire(blocking=False)  # released by the kernel with the process
    other = store.lock(FEATURE_NAMESPACE, 'key')
    assert not other.acquire(blocking=False)
    lock.release()
    assert not osp.exists(lock.path)
    with other:
        assert other.held
    assert not other.held and not osp.exists(other.path)


# ---------------------------------------------------------------------------------------------- two extractions
def _extract(tiny, cache_dir, kinds, out, started=None, slow=0.0, die_after=None):
    """One extraction in a forked process; what it computed and reported goes to ``out`` (JSON)."""
    torch.set_num_threads(1)
    computed = []

    def callback(source, shard):
        computed.append([source.name, shard])
        if die_after is not None and len(computed) == die_after:
            os._exit(9)  # kill -9: no cleanup, the locks go with the process
        if started is not None:
            started.set()
        time.sleep(slow)

    report = extract_features(tiny['model'], tiny['dataset'], tiny['sources'], kinds, CacheStore(cache_dir),
                              shard_callback=callback, **KW)
    with open(out, 'w') as f:
        json.dump(dict(computed=computed, status={f'{r["set"]}/{r["kind"]}': r['status'] for r in report}), f)


def _run(ctx, *args, **kwargs):
    proc = ctx.Process(target=_extract, args=args, kwargs=kwargs)
    proc.start()
    return proc


def _result(path):
    with open(path) as f:
        return json.load(f)


def test_two_extractions_of_one_entry_at_once(tiny, tmp_path):
    """A second run of the same entries waits for the first, then uses what it cached (nothing computed twice);
    a run that also wants another kind extracts only that one. No leftovers, entries equal to one clean run's."""
    ctx = multiprocessing.get_context('fork')
    cache = str(tmp_path / 'cache')
    started = ctx.Event()
    first = _run(ctx, tiny, cache, ['global'], str(tmp_path / 'first.json'), started=started, slow=0.2)
    assert started.wait(120)  # the first run holds the locks and writes its shards
    same = _run(ctx, tiny, cache, ['global'], str(tmp_path / 'same.json'))
    more = _run(ctx, tiny, cache, ['global', 'local'], str(tmp_path / 'more.json'))
    for proc in (first, same, more):
        proc.join(300)
        assert proc.exitcode == 0
    runs = [_result(str(tmp_path / f'{n}.json')) for n in ('first', 'same', 'more')]
    shards = [['TinyID', 0], ['TinyID', 1], ['TinyID', 2], ['Noise', 0], ['Flat', 0]]
    assert runs[0]['computed'][:3] == shards[:3] and runs[0]['status']['TinyID/global'] == 'extracted'
    assert runs[1]['status']['TinyID/global'] == 'cached'  # waited for the first run, computed nothing of it
    assert runs[2]['computed'] == shards  # local of every set (global too where it came first)
    for source in tiny['sources']:  # every entry extracted by exactly one run, the others found it cached
        for kind in ('global', 'local'):
            made = [r['status'][f'{source.name}/{kind}'] for r in runs if f'{source.name}/{kind}' in r['status']]
            assert made.count('extracted') == 1 and set(made) <= {'extracted', 'cached'}, (source.name, kind)
    for run in runs[:2]:  # what a global-only run computed is exactly the sets it reports as extracted
        assert sorted({name for name, _ in run['computed']}) == \
            sorted(k.split('/')[0] for k, v in run['status'].items() if v == 'extracted')
    store = CacheStore(cache)
    _same_entries(store, tiny, ('global', 'local'))
    _nothing_left_over(store)


def test_killed_extraction_resumes_in_the_next_run(tiny, tmp_path):
    """kill -9 after the first shard, locks held: the next run of the same work takes the locks and computes only
    the missing shards; the result equals a clean run."""
    ctx = multiprocessing.get_context('fork')
    cache = str(tmp_path / 'cache')
    killed = _run(ctx, tiny, cache, ['global', 'local'], str(tmp_path / 'killed.json'), die_after=1)
    killed.join(300)
    assert killed.exitcode == 9
    base = osp.join(cache, FEATURE_NAMESPACE)
    assert any(n.startswith('.lock-') for n in os.listdir(base))  # its lock files stay, unlocked
    computed = []
    report = extract_features(tiny['model'], tiny['dataset'], tiny['sources'], ['global', 'local'], CacheStore(cache),
                              shard_callback=lambda s, i: computed.append((s.name, i)), **KW)
    assert computed == [('TinyID', 1), ('TinyID', 2), ('Noise', 0), ('Flat', 0)]
    assert {r['status'] for r in report} == {'extracted'}
    store = CacheStore(cache)
    _same_entries(store, tiny, ('global', 'local'))
    _nothing_left_over(store)


def _hold_for(path, seconds, held, out):
    from mmood.cache import CacheLock
    CacheLock(path).acquire()
    held.set()
    time.sleep(seconds)
    with open(out, 'w') as f:
        f.write(repr(time.time()))
    os._exit(0)  # no release: the kernel's


def _rank_extracts(rank, port, tiny, cache_dir, out):
    with gloo_group(rank, port, 2):
        first = []
        extract_features(tiny['model'], tiny['dataset'], tiny['sources'], ['global'], CacheStore(cache_dir),
                         shard_callback=lambda s, i: first.append(time.time()), **KW)
        with open(osp.join(out, f'rank{rank}.json'), 'w') as f:
            json.dump(first, f)


def test_a_distributed_run_waits_for_another_runs_lock(tiny, tmp_path):
    """Another process holds the lock of one entry: the two ranks of a run wait for it together (polling, no barrier
    timing out), then extract; the result equals a clean run."""
    ctx = multiprocessing.get_context('fork')
    cache = str(tmp_path / 'cache')
    key = make_key(feature_key_parts(model_identity(tiny['model']), tiny['sources'][0], 'global'))
    held = ctx.Event()
    released = str(tmp_path / 'released')
    holder = ctx.Process(target=_hold_for, args=(CacheStore(cache).lock(FEATURE_NAMESPACE, key).path, 1.5, held,
                                                 released))
    holder.start()
    assert held.wait(60)
    spawn_with_port(_rank_extracts, 2, (tiny, cache, str(tmp_path)), start_method='fork')
    holder.join()
    with open(released) as f:
        released = float(f.read())
    for rank in range(2):
        with open(osp.join(tmp_path, f'rank{rank}.json')) as f:
            times = json.load(f)
        assert times and min(times) > released  # every rank computed shards of its own, after the wait
    _same_entries(CacheStore(cache), tiny, ('global', ))
    _nothing_left_over(CacheStore(cache))
