"""Data-loader defaults from the machine: num_workers='auto' and OODTestLoop."""
import os

import pytest
import torch

from mmood.utils import AUTO_WORKERS_CAP, ConfigError, loader_defaults, resolve_workers


def test_auto_workers_follow_the_usable_cpus(monkeypatch):
    usable = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    assert resolve_workers('auto') == min(AUTO_WORKERS_CAP, usable)
    monkeypatch.setattr('mmood.utils.workers._usable_cpus', lambda: 64)
    assert resolve_workers('auto') == AUTO_WORKERS_CAP == 16
    assert resolve_workers(3) == 3 and resolve_workers(0) == 0
    for bad in (-1, 'four', 2.0, True):
        with pytest.raises(ConfigError, match='num_workers'):
            resolve_workers(bad)


def test_loader_defaults_only_fill_what_the_config_leaves_open(monkeypatch):
    monkeypatch.setattr('mmood.utils.workers._usable_cpus', lambda: 6)
    out = loader_defaults(dict(batch_size=7, num_workers='auto'))
    assert out == dict(batch_size=7, num_workers=6, pin_memory=torch.cuda.is_available(),
                       collate_fn=dict(type='stack_collate'))
    assert loader_defaults(dict(batch_size=7, num_workers=0))['persistent_workers'] is False
    kept = loader_defaults(dict(num_workers=2, persistent_workers=True, pin_memory=False,
                                collate_fn=dict(type='pseudo_collate')))
    assert kept['persistent_workers'] is True and kept['pin_memory'] is False
    assert kept['collate_fn'] == dict(type='pseudo_collate')


def test_the_imagenet_configs_use_the_machine():
    from conftest import REPO
    from mmengine.config import Config
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'mcm', 'mcm_vitb16.py'))
    assert cfg.test_dataloader.num_workers == 'auto' and cfg.test_cfg.type == 'OODTestLoop'
    assert cfg.test_dataloader.batch_size == 256  # the batch size stays the config's


def test_the_test_loop_s_workers_end_with_its_pass(tmp_path):
    """With loading workers, no worker outlives ``tools/test.py``'s evaluation: persistent workers stayed alive until
    the Runner was collected, and that collection blocked for ~5 s per worker (see ``loader_defaults``)."""
    import multiprocessing
    from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_weights
    dataset = make_benchmark(str(tmp_path / 'bench'))
    config = str(tmp_path / 'mcm_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=tiny_weights(str(tmp_path / 't.pt')))!r}),
             class_names=['zero', 'one', 'two'])
test_dataloader = dict(batch_size=4, num_workers=2, dataset=dict(_delete_=True, **{dataset!r}))
''')
    before = set(multiprocessing.active_children())
    metrics = load_tool('test').main([config, '--work-dir', str(tmp_path / 'work'),
                                      '--cache-dir', str(tmp_path / 'cache')])
    assert metrics  # it evaluated
    assert set(multiprocessing.active_children()) - before == set()
