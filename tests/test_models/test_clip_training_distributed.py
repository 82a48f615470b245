"""The digits CLIP (configs/clip/clip_tiny_digits.py) trains the same under 2 processes as under one (the contrastive
loss on the global batch, the same captions per sample and epoch) and across an interruption: a run stopped after
its epoch-1 checkpoint and resumed ends with the weights of an uninterrupted run.

The runs here use SGD with momentum instead of the config's AdamW, whose division of each gradient by its running
magnitude would hide a wrong gradient (and amplify the last-bit differences of an all-reduce on near-zero gradients
to 1e-3 in 2 epochs). Under DDP the loss's gradient is the full-batch gradient divided by the world size (the
reference convention, clip_loss.py), so 2 processes at twice the SGD learning rate must follow one process exactly."""
import os.path as osp

import pytest
import torch
from conftest import REPO, run_command, run_tool

CONFIG = osp.join(REPO, 'configs', 'clip', 'clip_tiny_digits.py')
SHORT = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=100', 'param_scheduler.0.end=1',
         'param_scheduler.1.begin=1', 'param_scheduler.1.end=2', 'default_hooks.checkpoint.interval=1',
         'default_hooks.checkpoint.max_keep_ckpts=3', 'train_dataloader.dataset.indices=192']


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clip_dist'))
    config = osp.join(root, 'clip_sgd.py')
    with open(config, 'w') as f:
        f.write(f"""_base_ = ['{CONFIG}']
optim_wrapper = dict(_delete_=True, optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
""")

    def train(work, *extra, dist=False, options=()):
        args = ['--work-dir', osp.join(root, work), '--cache-dir', osp.join(root, 'cache'), *extra, '--cfg-options',
                *SHORT, *options]
        if dist:  # launched: 2 processes of one thread each
            return run_command(['bash', 'tools/dist_train.sh', config, '2'] + args, port_env='PORT',
                               env=dict(OMP_NUM_THREADS='1'))
        return run_tool('train', [config] + args, threads=1)

    train('one')
    return dict(root=root, train=train)


def weights(setup, work):
    return torch.load(osp.join(setup['root'], work, 'epoch_2.pth'), map_location='cpu',
                      weights_only=False)['state_dict']


def test_two_processes_train_the_clip_of_one(setup):
    setup['train']('two', dist=True, options=[
        'train_dataloader.batch_size=16',  # the same global batches
        'optim_wrapper.optimizer.lr=0.1'])  # twice the rate for the gradient / 2
    one, two = weights(setup, 'one'), weights(setup, 'two')
    assert one.keys() == two.keys()
    start = torch.load(osp.join(setup['root'], 'one', 'epoch_1.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5, msg=key)  # moves are ~5e-2
    for key in ('backbone.clip.text_projection', 'backbone.clip.visual.proj'):  # the second epoch trained
        assert (one[key] - start[key]).abs().max() > 1e-3


def test_a_stopped_run_resumes_to_the_same_clip(setup):
    """Stopped after its epoch-1 checkpoint (what a kill during epoch 2 leaves; tests/test_plp kills a process for
    real), then resumed with --resume: the weights of the uninterrupted run."""
    setup['train']('stopped', options=['train_cfg.max_epochs=1'])
    work = osp.join(setup['root'], 'stopped')
    assert osp.isfile(osp.join(work, 'epoch_1.pth')) and not osp.isfile(osp.join(work, 'epoch_2.pth'))
    setup['train']('stopped', '--resume')
    one, resumed = weights(setup, 'one'), weights(setup, 'stopped')
    for key in one:
        torch.testing.assert_close(resumed[key], one[key], rtol=1e-6, atol=1e-7, msg=key)
