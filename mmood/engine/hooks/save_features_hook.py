"""``SaveFeaturesHook``: cache the image features a test run computes (``tools/test.py --save-features``)."""
import glob
import logging
import os
import os.path as osp
import re
import shutil
import uuid
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...cache import CacheStore
from ...features.extract import FeatureEntryWriter, dataset_manifest
from ...features.identity import FEATURE_NAMESPACE, eval_set_sources, feature_key_parts, model_identity
from ...models import OODModel

__all__ = ['SaveFeaturesHook']

_SPILL = re.compile(r'^r(\d+)_(\d+)\.idx\.npy$')


@HOOKS.register_module()
class SaveFeaturesHook(Hook):
    """Write the features the test loop computed into the feature cache, one entry per (set, kind).

    The hook taps the model's ``extract_feat`` during testing, so the cached features are bit for bit the ones
    that produced the run's metrics: re-scoring them with ``tools/score.py`` (same batches, same functions)
    reproduces ``metrics.json`` exactly. Each rank spills its batches to disk as they finish (memory stays
    bounded); after the epoch rank 0 puts every sample in dataset order and writes the entries under the same
    keys ``tools/extract_features.py`` uses. Sampler padding is harmless (a padded sample rewrites its own row).

    The batches go to an in-progress folder of this run alone (:meth:`~mmood.cache.CacheStore.new_partial_dir`:
    rank 0 names it -- host, process id, a random part -- and tells the other ranks), so runs started together on
    one cache (a job array, the same second) never mix their batches; each entry is committed by one atomic rename.

    Args:
        cache_dir: the cache directory.
        checkpoint: the checkpoint loaded on top of the open_clip weights (``load_from``), part of the key.
        storage: ``'float32'`` (default; exact re-scoring) or ``'float16'``.
        made_by: provenance recorded in each entry.
    """
    priority = 'NORMAL'

    def __init__(self, cache_dir: str, checkpoint: Optional[str] = None, storage: str = 'float32',
                 made_by: str = 'tools/test.py --save-features'):
        self.cache = CacheStore(cache_dir)
        self.checkpoint = checkpoint
        self.storage = storage
        self.made_by = made_by
        self._model = None
        self._captured: Dict[str, torch.Tensor] = {}
        self._spill = None

    @staticmethod
    def _unwrap(model):
        return model.module if is_model_wrapper(model) else model

    def before_test(self, runner) -> None:
        model = self._unwrap(runner.model)
        if not isinstance(model, OODModel):
            raise TypeError(f'SaveFeaturesHook needs an OOD model (mmood.models.OODModel); got {type(model).__name__}')
        eval_set_sources(runner.cfg.test_dataloader.dataset)  # fail before testing, not after it
        original = model.extract_feat

        def tap(inputs):
            feats = original(inputs)
            self._captured = {k: v.detach() for k, v in feats.items()}
            return feats

        model.extract_feat = tap
        self._model = model
        # one folder per run, never per second: rank 0 makes it, every rank of this run (only) writes there
        name = [None]
        if get_dist_info()[0] == 0:
            name = [osp.basename(self.cache.new_partial_dir(FEATURE_NAMESPACE, f'test-run-{runner.timestamp}'))]
        broadcast_object_list(name)
        self._spill = osp.join(self.cache.root, FEATURE_NAMESPACE, name[0])
        os.makedirs(self._spill, exist_ok=True)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        rank, _ = get_dist_info()
        stem = osp.join(self._spill, f'r{rank}_{batch_idx:06d}')
        unreadable = [str(s.img_path) for s in outputs if 'unreadable' in s]
        if unreadable:  # stand-ins of skipped images must never be cached as their features
            with open(f'{stem}.unreadable', 'w') as f:
                f.write('\n'.join(unreadable) + '\n')
        for kind, value in self._captured.items():
            self._save(f'{stem}.{kind}.npy', value.cpu().numpy().astype(self.storage))
        self._save(f'{stem}.idx.npy', np.array([int(s.sample_idx) for s in outputs], dtype=np.int64))
        self._captured = {}

    @staticmethod
    def _save(file: str, arr: np.ndarray) -> None:
        tmp = f'{file[:-4]}.tmp-{uuid.uuid4().hex[:8]}.npy'
        np.save(tmp, arr, allow_pickle=False)
        os.replace(tmp, file)

    def after_test_epoch(self, runner, metrics=None) -> None:
        barrier()
        rank, _ = get_dist_info()
        try:
            if rank == 0:
                try:
                    self._assemble(runner)
                finally:  # this run's batches only: nothing another run could resume
                    shutil.rmtree(self._spill, ignore_errors=True)
        finally:
            barrier()
            self._restore()

    def after_test(self, runner) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._model is not None and 'extract_feat' in vars(self._model):
            del self._model.extract_feat
        self._model = None

    def _assemble(self, runner) -> None:
        skipped = glob.glob(osp.join(self._spill, '*.unreadable'))
        if skipped:
            print_log(f'SaveFeaturesHook: features NOT cached: {len(skipped)} batches held unreadable images that '
                      f'were skipped (skip_unreadable=True); their rows would be stand-ins. Fix or remove the images '
                      f'(tools/verify_data.py lists them) and run again.', logger='current', level=logging.WARNING)
            return
        dataset = runner.test_dataloader.dataset
        sources = eval_set_sources(runner.cfg.test_dataloader.dataset)
        model_id = model_identity(self._model, self.checkpoint)
        indices = np.arange(len(dataset))
        paths, labels = dataset_manifest(dataset, indices)
        set_ids = np.array([int(dataset.get_data_info(i)['set_id']) for i in indices], dtype=np.int64)
        position = np.zeros(len(dataset), dtype=np.int64)
        for source in sources:
            members = np.flatnonzero(set_ids == source.set_id)
            position[members] = np.arange(members.size)
        spills = sorted(f for f in os.listdir(self._spill) if _SPILL.match(f))
        if not spills:
            raise RuntimeError(f'SaveFeaturesHook: no features were captured (spill directory {self._spill})')
        stem0 = spills[0][:-len('.idx.npy')]
        kinds = sorted(osp.basename(f)[len(stem0) + 1:-4]
                       for f in glob.glob(osp.join(self._spill, stem0 + '.*.npy')) if not f.endswith('.idx.npy'))
        for kind in kinds:
            sample = np.load(osp.join(self._spill, f'{stem0}.{kind}.npy'), mmap_mode='r')
            writers, filled = {}, {}
            try:
                for source in sources:
                    members = np.flatnonzero(set_ids == source.set_id)
                    writers[source.set_id] = FeatureEntryWriter(
                        self.cache, feature_key_parts(model_id, source, kind, self.storage), source,
                        (members.size, ) + tuple(sample.shape[1:]), labels[members], [paths[i] for i in members],
                        self.made_by)
                    filled[source.set_id] = np.zeros(members.size, dtype=bool)
                for name in spills:
                    stem = name[:-len('.idx.npy')]
                    idx = np.load(osp.join(self._spill, name))
                    arr = np.load(osp.join(self._spill, f'{stem}.{kind}.npy'), mmap_mode='r')
                    for sid, writer in writers.items():
                        rows = np.flatnonzero(set_ids[idx] == sid)
                        if rows.size:
                            writer.feats[position[idx[rows]]] = arr[rows]
                            filled[sid][position[idx[rows]]] = True
                incomplete = [s.name for s in sources if not filled[s.set_id].all()]
                if incomplete:
                    raise RuntimeError(f'SaveFeaturesHook: features missing for some samples of {incomplete}')
                for writer in writers.values():
                    writer.commit()
            except BaseException:
                for writer in writers.values():
                    writer.abort()
                raise
        print_log(f'Saved {", ".join(kinds)} features of {len(sources)} sets ({len(dataset)} images) to the '
                  f'feature cache {self.cache.root}; re-score them with tools/score.py.', logger='current',
                  level=logging.INFO)
