"""OODDistributedDataParallel: pass-through for frozen models, whole-model DDP for trainable ones."""
import os
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from conftest import REPO, free_port, make_benchmark, run_command, tiny_backbone, tiny_pipeline, write_images
from torch.nn.parallel import DistributedDataParallel

from mmood.engine import OODDistributedDataParallel


class Toy(nn.Module):

    def __init__(self, trainable):
        super().__init__()
        self.frozen = nn.Linear(3, 3).requires_grad_(False)
        self.head = nn.Linear(3, 2).requires_grad_(trainable)

    def forward(self, x):
        return self.head.weight.sum() + self.head(self.frozen(x)).sum()

    def test_step(self, data):
        return ['tested']


@pytest.fixture
def one_process_group():
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    dist.init_process_group('gloo', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_frozen_model_is_passed_through(one_process_group):
    model = Toy(trainable=False)
    wrapped = OODDistributedDataParallel(model, device_ids=[0], broadcast_buffers=False)
    assert wrapped.module is model and not wrapped.trainable
    assert wrapped.test_step({}) == ['tested']
    assert torch.equal(wrapped(torch.ones(1, 3)), model(torch.ones(1, 3)))
    with pytest.raises(RuntimeError, match='not needed'):  # what plain DDP says about it
        DistributedDataParallel(Toy(trainable=False))


def test_trainable_model_gets_whole_model_ddp(one_process_group):
    wrapped = OODDistributedDataParallel(Toy(trainable=True), device_ids=[0], broadcast_buffers=False)
    assert wrapped.trainable and isinstance(wrapped, DistributedDataParallel)
    assert isinstance(wrapped.module.head, nn.Linear)  # sub-modules stay themselves (methods reachable)
    wrapped(torch.ones(2, 3)).backward()
    assert wrapped.module.head.weight.grad is not None


def test_two_process_training_of_a_probe(tmp_path):
    """dist_train.sh on a probe over a frozen tower: the case mmengine's separate wrapper cannot run."""
    root = str(tmp_path)
    bench = make_benchmark(osp.join(root, 'bench'))
    for c, name in enumerate(['zero', 'one', 'two']):
        write_images(osp.join(root, 'train', name), 4, seed=30 + c, kind='stripes')
    train = dict(type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    weights = osp.join(root, 'tiny.pt')
    torch.manual_seed(0)
    from mmpretrain.registry import MODELS
    torch.save(MODELS.build(tiny_backbone()).clip.state_dict(), weights)
    config = osp.join(root, 'plp_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/plp_vitb16_in1k.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}),
             class_names=['zero', 'one', 'two'])
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
val_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
train_cfg = dict(max_iters=4, val_interval=4, extraction=dict(batch_size=5))
param_scheduler = dict(end=4)
default_hooks = dict(checkpoint=dict(interval=4), logger=dict(interval=2))
''')
    run_command(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', osp.join(root, 'work'), '--cache-dir',
                 osp.join(root, 'cache')], env=dict(OMP_NUM_THREADS='1'), port_env='PORT')
    ckpt = torch.load(osp.join(root, 'work', 'iter_4.pth'), map_location='cpu', weights_only=False)
    assert any(k.startswith('head.') for k in ckpt['state_dict'])
