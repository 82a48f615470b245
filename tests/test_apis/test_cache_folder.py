"""mmood.apis.config: the cache folder is resolved in one place (--cache-dir, the config's, $MMOOD_CACHE,
$XDG_CACHE_HOME, ~/.cache) and reaches the model and every dataset that declares a cache (index) folder; configs for
runners and for the runner-less tools."""
import os.path as osp

import pytest
import torch
from conftest import REPO
from mmengine.config import Config

from mmood.apis import (apply_cache_dir, apply_common_options, default_cache_dir, load_config, load_runner_config,
                        parse_method_options, raw_cfg_options, resolve_cache_dir)

CONFIG = osp.join(REPO, 'configs', 'mcm', 'mcm_tiny_digits.py')


def test_cache_folder_fills_declared_dataset_caches(tmp_path):
    cfg = Config(dict(model=dict(cache_dir=None),
                      train_dataloader=dict(dataset=dict(type='ImageCaptionDataset', cache_dir=None)),
                      val_dataloader=dict(dataset=dict(type='CustomDataset')),
                      test_dataloader=dict(dataset=dict(type='ImageCaptionDataset', cache_dir='/mine'))))
    apply_common_options(cfg, cache_dir=str(tmp_path))
    assert cfg.model.cache_dir == cfg.cache_dir == str(tmp_path)
    assert cfg.train_dataloader.dataset.cache_dir == str(tmp_path)  # declared None: filled
    assert 'cache_dir' not in cfg.val_dataloader.dataset  # not declared: left alone
    assert cfg.test_dataloader.dataset.cache_dir == '/mine'  # set by the user: kept
    if not torch.cuda.is_available():
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'  # nccl needs GPUs


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv('MMOOD_CACHE', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert default_cache_dir() == str(tmp_path / 'xdg' / 'mmood')
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert default_cache_dir() == str(tmp_path / 'home' / '.cache' / 'mmood')
    monkeypatch.setenv('MMOOD_CACHE', str(tmp_path / 'env'))
    assert resolve_cache_dir() == str(tmp_path / 'env')
    cfg = Config(dict(model=dict(cache_dir=str(tmp_path / 'config'))))
    assert resolve_cache_dir(None, cfg) == str(tmp_path / 'config')  # the config's beats the environment
    assert resolve_cache_dir(str(tmp_path / 'given'), cfg) == str(tmp_path / 'given')  # --cache-dir beats both
    monkeypatch.chdir(tmp_path)
    assert resolve_cache_dir('relative') == str(tmp_path / 'relative')  # absolute: the same folder for child runs
    assert resolve_cache_dir('~/c') == str(tmp_path / 'home' / 'c')


def test_model_gets_the_folder_only_where_it_takes_one(tmp_path):
    runner_cfg = apply_cache_dir(Config(dict(model=dict(type='ImageClassifier'))), str(tmp_path))
    assert 'cache_dir' not in runner_cfg.model and runner_cfg.cache_dir == str(tmp_path)  # a Runner builds it
    runnerless = apply_cache_dir(Config(dict(model=dict(type='CLIPOODClassifier'))), str(tmp_path), model=True)
    assert runnerless.model.cache_dir == str(tmp_path)
    again = apply_cache_dir(runnerless)  # idempotent: the folder now in the config is kept
    assert again.model.cache_dir == again.cache_dir == str(tmp_path)


def test_runner_and_runnerless_configs(tmp_path):
    cfg = load_runner_config(CONFIG, {'randomness.seed': 3}, 'none', None, str(tmp_path))
    assert cfg.work_dir == osp.join('./work_dirs', 'mcm_tiny_digits') and cfg.launcher == 'none'
    assert cfg.randomness.seed == 3 and cfg.cache_dir == cfg.model.cache_dir == str(tmp_path)
    assert load_runner_config(CONFIG, work_dir=str(tmp_path / 'w')).work_dir == str(tmp_path / 'w')
    cfg = load_config(CONFIG, None, str(tmp_path))
    assert cfg.model.cache_dir == str(tmp_path)


def test_option_helpers():
    assert parse_method_options(['knn.k=100', 'energy.temperature=2', 'knn.name=x']) == \
        {'knn': {'k': 100, 'name': 'x'}, 'energy': {'temperature': 2}}
    with pytest.raises(ValueError, match='method.option=value'):
        parse_method_options(['knn=3'])
    assert raw_cfg_options(['c.py', '--cfg-options', 'a=1', 'b=2', '--work-dir', 'w']) == ['a=1', 'b=2']
    assert raw_cfg_options(['c.py']) == []
