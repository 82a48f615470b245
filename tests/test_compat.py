"""Each compat shim: applied only when its condition holds, and it fixes what it claims to fix."""
import numpy as np
import pytest
import torch

from mmood import _compat


def test_torchvision_and_open_clip_import():
    import open_clip  # noqa: F401
    import torchvision
    from torchvision import transforms
    assert transforms.Resize(8)(torch.zeros(3, 16, 16)).shape == (3, 8, 8)
    # The shim declared the ops only if the extension could not load; either way the import worked.
    assert hasattr(torch.ops.torchvision, 'nms')
    assert _compat.APPLIED['torchvision'] == (_compat._TV_LIBRARY is not None)
    assert torchvision.__version__


def test_torchvision_shim_idempotent():
    before = _compat._TV_LIBRARY
    _compat.ensure_torchvision_importable()
    assert _compat._TV_LIBRARY is before


def test_checkpoint_loader_reads_mmengine_checkpoint(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = {'state_dict': {'w': torch.ones(2)}, 'message_hub': {'buf': HistoryBuffer([1.0, 2.0], [1, 1])},
            'meta': {'arr': np.arange(3)}}
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    if _compat._torch_defaults_to_weights_only():
        with pytest.raises(Exception):  # the unpatched default refuses it
            torch.load(path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert list(loaded['meta']['arr']) == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match='can not be found'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'missing.pth'), map_location='cpu')


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only patches')
def test_cpu_distributed_patches():
    from mmengine.model.wrappers import MMDistributedDataParallel
    assert torch.cuda.set_device(0) is None  # no-op instead of an AttributeError
    assert getattr(MMDistributedDataParallel.__init__, '_mmood_patched', False)
    assert _compat.patch_cpu_distributed() is True  # idempotent
    assert _compat.APPLIED['cpu_distributed'] is True


def test_numpy_in1d_alias(monkeypatch):
    if hasattr(np, 'in1d'):
        monkeypatch.delattr(np, 'in1d')
    assert _compat.patch_numpy() is True
    assert np.in1d([[1, 5], [3, 9]], [3, 5]).tolist() == [False, True, True, False]
    assert np.in1d([1, 2], [2], invert=True).tolist() == [True, False]
    assert _compat.patch_numpy() is False  # present now: nothing to do


def test_mmengine_s_config_formatting_is_memoised_and_the_same():
    from mmengine.config import Config
    from mmengine.config import config as config_module
    assert _compat.memoise_config_formatting() is True and _compat.APPLIED['config_formatting'] is True
    memoised = config_module.FormatCode
    original = memoised.__wrapped__  # yapf's own FormatCode
    style = dict(based_on_style='pep8', split_before_expression_after_opening_paren=True)
    source = "model=dict(type='CLIPOODClassifier',head=dict(type='MCMHead',tau=1.0),names=['a','b'] )\n"
    assert memoised(source, style_config=style) == original(source, style_config=style)
    assert memoised(source, style_config=dict(style)) == original(source, style_config=style)  # from the cache
    cfg = Config(dict(model=dict(type='CLIPOODClassifier', head=dict(type='MCMHead', tau=1.0)), sets=['a', 'b'],
                      marker='compat-test'))
    before = memoised.cache_info()
    text = cfg.pretty_text
    assert "tau=1.0" in text and memoised.cache_info().misses == before.misses + 1
    assert cfg.pretty_text == text and memoised.cache_info().hits == before.hits + 1  # formatted once
    assert Config(dict(a=1)).pretty_text.strip() == 'a = 1'  # another text: formatted, not served from the cache
    assert memoised.cache_info().misses == before.misses + 2


def test_a_loader_without_workers_restarts_without_mmengine_s_sleep(monkeypatch):
    """mmengine's IterBasedTrainLoop restarts a finite loader with time.sleep(2); without worker processes there is
    nothing to wait for: the restart is the same (data, epoch counter, set_epoch) minus the sleep. With workers the
    sleep stays."""
    import time

    from mmengine.runner import loops
    from torch.utils.data import DataLoader
    assert _compat.APPLIED['epoch_sleep'] is True and _compat.skip_epoch_sleep_without_workers() is True
    slept = []
    monkeypatch.setattr(time, 'sleep', slept.append)

    class Sampler(list):
        epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    sampler = Sampler([0, 1, 2])
    loader = DataLoader([10, 11, 12], batch_size=None, sampler=sampler, num_workers=0)
    it = loops._InfiniteDataloaderIterator(loader)
    assert [int(next(it)) for _ in range(7)] == [10, 11, 12, 10, 11, 12, 10]
    assert (it._epoch, Sampler.epochs, slept) == (2, [1, 2], [])
    assert loops.time is time  # restored after each restart

    class WorkerLoader:  # stands for a DataLoader with worker processes
        num_workers = 2

        def __iter__(self):
            return iter([1, 2])

    it = loops._InfiniteDataloaderIterator(WorkerLoader())
    assert [next(it) for _ in range(5)] == [1, 2, 1, 2, 1] and slept == [2, 2]
