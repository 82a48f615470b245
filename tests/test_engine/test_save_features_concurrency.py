"""Two ``tools/test.py --save-features`` runs of two different models started together on one cache, in the same
second: each commits its own features, and re-scoring each model's cache gives that model's own metrics."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import torch
from conftest import REPO, gloo_group, make_benchmark, run_tool, spawn_with_port, tiny_backbone
from mmengine.config import Config

from mmood.cache import CacheStore
from mmood.engine import SaveFeaturesHook

# tools/test.py with two things that make the overlap of two tiny runs certain, whatever the load of the machine:
# the Runner's timestamp (one-second resolution) is the same in both, as for two runs launched in the same second by
# a job array; and both runs test together: each waits for the other after setting up (a file barrier), then takes
# a little longer per batch than a tiny model does.
DRIVER = '''import mmood  # noqa: F401
import os
import runpy
import sys
import time

from mmengine.runner import Runner

from mmood.engine import SaveFeaturesHook

Runner.timestamp = property(lambda self: os.environ['FORCED_TIMESTAMP'])
before_test, after_test_iter = SaveFeaturesHook.before_test, SaveFeaturesHook.after_test_iter


def synchronised_before_test(self, runner):
    before_test(self, runner)
    barrier = os.environ['BARRIER_DIR']
    open(os.path.join(barrier, str(os.getpid())), 'w').close()
    deadline = time.time() + 120
    while len(os.listdir(barrier)) < 2 and time.time() < deadline:
        time.sleep(0.01)


def slower_after_test_iter(self, *args, **kwargs):
    time.sleep(0.1)
    after_test_iter(self, *args, **kwargs)


SaveFeaturesHook.before_test, SaveFeaturesHook.after_test_iter = synchronised_before_test, slower_after_test_iter
sys.argv = ['tools/test.py'] + sys.argv[1:]
sys.path.insert(0, os.path.join(os.environ['MMOOD_REPO'], 'tools'))
runpy.run_path(os.path.join(os.environ['MMOOD_REPO'], 'tools', 'test.py'), run_name='__main__')
'''


def _weights(path, seed):
    """The tiny tower's random weights drawn with ``seed`` (another seed: another model, another cache key)."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    torch.save(MODELS.build(tiny_backbone()).clip.state_dict(), path)
    return path


def test_two_runs_in_one_second_keep_their_own_features(tmp_path):
    root = str(tmp_path)
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    cache = osp.join(root, 'cache')
    driver = osp.join(root, 'driver.py')
    with open(driver, 'w') as f:
        f.write(DRIVER)
    runs = {}
    for name, seed in (('a', 0), ('b', 1)):
        weights = _weights(osp.join(root, f'tiny_{name}.pt'), seed)
        config = osp.join(root, f'mcm_tiny_{name}.py')
        with open(config, 'w') as f:
            f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'])
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
''')
        runs[name] = dict(config=config, work=osp.join(root, f'work_{name}'))
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1', MMOOD_REPO=REPO,
               FORCED_TIMESTAMP=time.strftime('%Y%m%d_%H%M%S'), BARRIER_DIR=osp.join(root, 'barrier'))
    os.makedirs(env['BARRIER_DIR'])
    procs = {name: subprocess.Popen([sys.executable, driver, run['config'], '--work-dir', run['work'],
                                     '--cache-dir', cache, '--save-features'], cwd=REPO, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, run in runs.items()}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f'run {name} exited with {proc.returncode}:\n{out[-6000:]}'
    for name, run in runs.items():
        (found, ) = glob.glob(osp.join(run['work'], '*', 'metrics.json'))
        assert osp.basename(osp.dirname(found)) == env['FORCED_TIMESTAMP']
        with open(found) as f:
            run['metrics'] = json.load(f)['metrics']
    store = CacheStore(cache)
    entries = store.list_entries('features')
    assert [e for e in entries if e['status'] != 'ok'] == []  # no in-progress folder left behind
    assert len(entries) == 6  # 3 sets x 2 models, global features
    feats = {}
    for e in entries:
        model = 'a' if 'tiny_a.pt' in json.dumps(e['meta']['key_parts']) else 'b'
        feats.setdefault(model, []).append(np.asarray(store.load('features', e['key'])[0]['feats']))
    assert len(feats['a']) == len(feats['b']) == 3
    assert not any(np.array_equal(x, y) for x in feats['a'] for y in feats['b'])
    for name, run in runs.items():  # each model's cache gives its own run's metrics, bit for bit
        result = run_tool('score', [run['config'], '--cache-dir', cache, '--work-dir', osp.join(root, f'score_{name}')])
        assert result['metrics'] == run['metrics'], name


def _stub_runner(dataset_cfg, timestamp):
    """What SaveFeaturesHook.before_test reads of a Runner: the model, the config, the timestamp."""
    from types import SimpleNamespace

    from mmpretrain.registry import MODELS
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=dict(type='MCMHead')))
    return SimpleNamespace(model=model, timestamp=timestamp,
                           cfg=Config(dict(test_dataloader=dict(dataset=dataset_cfg))))


def test_runs_with_one_timestamp_get_their_own_folder(tmp_path):
    """Two hooks of runs with the same timestamp (one process, same second): two in-progress folders."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    dataset_cfg = make_benchmark(str(tmp_path / 'bench'), n_per_class=1, n_ood=(1, 1))
    runner = _stub_runner(dataset_cfg, time.strftime('%Y%m%d_%H%M%S'))
    hooks = [SaveFeaturesHook(str(tmp_path / 'cache')) for _ in range(2)]
    for hook in hooks:
        hook.before_test(runner)
        hook._restore()
    assert hooks[0]._spill != hooks[1]._spill and all(osp.isdir(h._spill) for h in hooks)
    assert osp.basename(hooks[0]._spill).startswith(f'.partial-test-run-{runner.timestamp}-')


def _rank_folder(rank, port, dataset_cfg, cache, out):
    from mmengine.registry import init_default_scope
    with gloo_group(rank, port, 2):
        init_default_scope('mmpretrain')
        hook = SaveFeaturesHook(cache)
        hook.before_test(_stub_runner(dataset_cfg, '20240101_000000'))
        hook._restore()
        with open(osp.join(out, f'rank{rank}'), 'w') as f:
            f.write(hook._spill)


def test_ranks_of_one_run_share_its_folder(tmp_path):
    """Rank 0 names the run's folder and the other ranks write there: one folder for the run."""
    dataset_cfg = make_benchmark(str(tmp_path / 'bench'), n_per_class=1, n_ood=(1, 1))
    cache = str(tmp_path / 'cache')
    spawn_with_port(_rank_folder, 2, (dataset_cfg, cache, str(tmp_path)), start_method='fork')
    folders = [open(osp.join(tmp_path, f'rank{r}')).read() for r in range(2)]
    assert folders[0] == folders[1]
    assert [e['path'] for e in CacheStore(cache).list_entries()] == [folders[0]]
