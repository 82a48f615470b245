"""tools/cli_common.py: the cache folder reaches the model and every dataset that declares a cache (index) folder."""
from conftest import load_tool
from mmengine.config import Config


def test_cache_folder_fills_declared_dataset_caches(tmp_path):
    common = load_tool('cli_common')
    cfg = Config(dict(model=dict(cache_dir=None),
                      train_dataloader=dict(dataset=dict(type='ImageCaptionDataset', cache_dir=None)),
                      val_dataloader=dict(dataset=dict(type='CustomDataset')),
                      test_dataloader=dict(dataset=dict(type='ImageCaptionDataset', cache_dir='/mine'))))
    common.apply_common_options(cfg, cache_dir=str(tmp_path))
    assert cfg.model.cache_dir == cfg.cache_dir == str(tmp_path)
    assert cfg.train_dataloader.dataset.cache_dir == str(tmp_path)  # declared None: filled
    assert 'cache_dir' not in cfg.val_dataloader.dataset  # not declared: left alone
    assert cfg.test_dataloader.dataset.cache_dir == '/mine'  # set by the user: kept
