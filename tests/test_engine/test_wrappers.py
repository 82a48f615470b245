"""OODDistributedDataParallel: pass-through for frozen models, whole-model DDP for trainable ones."""
import os

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from conftest import free_port
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


# dist_train.sh of a probe over a frozen tower (the case mmengine's separate wrapper cannot run) and its equality
# with one process: tests/test_plp/test_plp_distributed.py
