"""PLP training is exact under 2 processes and across a kill: tools/dist_train.sh with half the per-process batch
gives the probe of one process, and a run killed after its last checkpoint and resumed (tools/train.py --resume)
ends with the probe of an uninterrupted run."""
import glob
import os
import os.path as osp
import sys

import pytest
import torch
from conftest import (REPO, make_benchmark, run_command, run_tool, tiny_backbone, tiny_pipeline, tiny_weights,
                      write_images, write_killer)

ITERS = 6


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('plp_dist'))
    bench = make_benchmark(osp.join(root, 'bench'))
    for c, name in enumerate(['zero', 'one', 'two']):
        write_images(osp.join(root, 'train', name), 6, seed=40 + c, kind='stripes')  # 18 images: even per rank
    train = dict(type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    write_killer(root)
    config = osp.join(root, 'plp_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/plp/plp_vitb16_in1k.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'])
train_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
val_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
train_cfg = dict(max_iters={ITERS}, val_interval={ITERS}, extraction=dict(batch_size=6))
param_scheduler = dict(end={ITERS})
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=5), logger=dict(interval=2))
''')
    killed = osp.join(root, 'plp_tiny_killed.py')  # the same run, killed after iteration 3 (checkpoint at 2)
    with open(killed, 'w') as f:
        f.write("""_base_ = ['./plp_tiny.py']
custom_imports = dict(imports=['mmood', 'killer'], allow_failed_imports=False)
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='KillAfter', iteration=3)]
""")
    env = dict(PYTHONPATH=root + os.pathsep + REPO, OMP_NUM_THREADS='1')
    cache = osp.join(root, 'cache')

    def train(work, *extra, dist=False, kill=False):
        args = ['--work-dir', osp.join(root, work), '--cache-dir', cache, *extra]
        if dist:
            return run_command(['bash', 'tools/dist_train.sh', config, '2'] + args, env=env, port_env='PORT')
        if kill:  # a real kill -9 of a training process
            return run_command([sys.executable, 'tools/train.py', killed] + args, env=env)
        return run_tool('train', [config] + args, threads=1)

    return dict(root=root, train=train)


def probe(setup, work):
    state = torch.load(osp.join(setup['root'], work, f'iter_{ITERS}.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    return {k: v for k, v in state.items() if k.startswith('head.') or k == 'class_counts'}


def test_two_processes_train_the_probe_of_one(setup):
    setup['train']('one')
    setup['train']('two', '--cfg-options', 'train_dataloader.batch_size=2', dist=True)  # the same global batches
    one, two = probe(setup, 'one'), probe(setup, 'two')
    assert one.keys() == two.keys() and 'head.fc.weight' in one
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6, msg=key)


def test_a_killed_run_resumes_to_the_same_probe(setup):
    with pytest.raises(AssertionError, match='exited with 9'):
        setup['train']('killed', kill=True)
    work = osp.join(setup['root'], 'killed')
    assert osp.isfile(osp.join(work, 'iter_2.pth')) and not osp.isfile(osp.join(work, f'iter_{ITERS}.pth'))
    setup['train']('killed', '--resume')
    with open(sorted(glob.glob(osp.join(work, '2*', '2*.log')))[-1]) as f:  # the resumed run's log
        log = f.read()
    assert 'Advance dataloader 2 steps' in log or 'resumed' in log.lower()
    if not osp.isdir(osp.join(setup['root'], 'one')):
        setup['train']('one')
    one, resumed = probe(setup, 'one'), probe(setup, 'killed')
    for key in one:
        torch.testing.assert_close(resumed[key], one[key], rtol=1e-6, atol=1e-7, msg=key)
