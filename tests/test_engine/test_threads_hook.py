"""IntraOpThreadsHook: the run's intra-op thread count, restored afterwards; the digits training configs use it."""
import os.path as osp

import pytest
import torch
from conftest import method_configs
from mmengine.config import Config

from mmood.engine.hooks import IntraOpThreadsHook


def test_threads_set_for_the_run_and_restored():
    before = torch.get_num_threads()
    hook = IntraOpThreadsHook(threads=1)
    try:
        torch.set_num_threads(2)
        hook.before_run(None)
        assert torch.get_num_threads() == 1
        hook.after_run(None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    for bad in (0, 1.5, True, '1'):
        with pytest.raises(ValueError, match='threads must be an integer'):
            IntraOpThreadsHook(threads=bad)


@pytest.mark.parametrize('path', method_configs('*_tiny_digits.py'),
                         ids=osp.basename)
def test_every_digits_training_config_fixes_its_threads(path):
    cfg = Config.fromfile(path)
    if cfg.get('train_cfg'):
        assert dict(type='IntraOpThreadsHook', threads=1) in [dict(h) for h in cfg.custom_hooks]
