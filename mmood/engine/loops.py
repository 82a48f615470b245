"""Loops that train and evaluate on cached image features instead of images.

The config's dataloaders keep describing *images* (so ``tools/extract_features.py``, ``tools/score.py`` and
``tools/test.py --save-features`` read them as usual). Before building its dataloader, each loop below

1. looks up the features of its dataset's sets in the feature cache, for the runner's model
   (:func:`mmood.features.model_identity`; kinds: ``model.cached_input_kinds``);
2. extracts what is missing with the model's frozen tower, through :func:`mmood.features.extract_features`
   (resumable, sharded, progress bar; every rank takes part) -- the only time an image is decoded;
3. for training, lets the model fit what it needs on the cached ID-train set and return the training labels
   (``model.prepare_cached_training``: PLP's z-score statistics and pseudo-labels);
4. serves the rows through :class:`~mmood.features.CachedFeatureDataset` with :func:`feature_collate`.

So ``python tools/train.py CONFIG`` extracts missing features itself before training starts, and
``tools/test.py CONFIG CHECKPOINT`` runs without the image folders once the features are cached.

Options common to the three loops:

* ``sets``: keep only these sets of an ``OODEvalDataset`` (names or groups; ``('id', )`` = the ID test set);
* ``extraction``: ``batch_size`` / ``num_workers`` / ``storage`` / ``shard_size`` of a missing extraction
  (defaults: the dataloader's ``num_workers``, ``min(batch_size, 256)`` images per forward, float32);
* ``num_workers``: workers of the feature dataloader (0: gathering rows is cheaper than inter-process copies);
* ``in_memory``: read the cached arrays into memory instead of memory-mapping them.
"""
import copy
import logging
import os.path as osp
from typing import Any, Dict, Optional, Sequence

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop, TestLoop, ValLoop
from mmpretrain.registry import DATASETS, LOOPS

from ..models import OODModel

__all__ = ['ensure_features', 'cached_feature_dataloader', 'OODTestLoop', 'CachedFeatureTrainLoop',
           'CachedFeatureValLoop', 'CachedFeatureTestLoop']


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def ensure_features(model, dataset_cfg: dict, sources: Sequence, kinds: Sequence[str], cache, model_id: dict,
                    batch_size: int, num_workers: Any, extraction: dict, checkpoint: Optional[str] = None) -> None:
    """Extract the features of the sources that are not cached yet (all ranks call this); ``checkpoint``: the one
    ``model_id`` was made with (the extraction's keys must be the same)."""
    from ..features import MissingFeaturesError, extract_features, find_set_features
    missing = []
    for source in sources:
        try:
            find_set_features(cache, model_id, source, kinds)
        except MissingFeaturesError:
            missing.append(source)
    if not missing:
        return
    print_log(f'Extracting {", ".join(kinds)} features of {[s.name for s in missing]} into {cache.root} '
              f'(once; later runs read the cache).', logger='current', level=logging.INFO)
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    extract_features(model, dataset, missing, kinds, cache, storage=extraction.get('storage', 'float32'),
                     batch_size=int(extraction.get('batch_size', min(int(batch_size), 256))),
                     num_workers=extraction.get('num_workers', num_workers),  # 'auto' resolved there
                     shard_size=int(extraction.get('shard_size', 2048)),
                     made_by=extraction['made_by'], progress=True, checkpoint=checkpoint)


def cached_feature_dataloader(runner, dataloader: Any, training: bool, sets: Optional[Sequence[str]] = None,
                              extraction: Optional[dict] = None, num_workers: int = 0,
                              in_memory: bool = False) -> Any:
    """The dataloader config with its image dataset replaced by the cached features of the same images.

    Args:
        runner: the runner (its model extracts missing features and, for training, prepares the labels).
        dataloader: the dataloader config (a built ``DataLoader`` is returned unchanged).
        training: training (targets from :meth:`OODModel.prepare_cached_training`, or the set's labels when it
            returns None; label tensors per batch) or evaluation (data samples per sample).
        sets: keep only these sets (names or groups).
        extraction: options of a missing extraction (see the module docstring).
        num_workers: workers of the feature dataloader.
        in_memory: read the arrays into memory.

    Returns:
        A dataloader config whose ``dataset`` is a :class:`~mmood.features.CachedFeatureDataset` config.
    """
    from ..cache import CacheStore
    from ..features.dataset import CachedFeatureDataset, dataset_sources, feature_collate
    from ..features import find_set_features, model_identity
    if not isinstance(dataloader, dict):
        return dataloader
    model = _unwrap(runner.model)
    if not isinstance(model, OODModel):
        raise TypeError(f'Loops over cached features serve an OOD model (mmood.models.OODModel); got '
                        f'{type(model).__name__}')
    if not model.cache_dir:
        raise ValueError('Training/evaluating on cached features needs `model.cache_dir` (the tools fill it in '
                         'from --cache-dir, $MMOOD_CACHE or ~/.cache/mmood).')
    kinds = tuple(model.cached_input_kinds)
    # the checkpoint is part of the key when it changes these features (NPOS's cached trunk tokens: it does not)
    checkpoint = model.cached_input_checkpoint(runner.cfg.get('load_from'))
    model_id = model_identity(model, checkpoint)
    cache = CacheStore(model.cache_dir)
    dataset_cfg = dict(dataloader['dataset'])
    sources = dataset_sources(dataset_cfg, sets)
    extraction = dict(extraction or {})
    extraction.setdefault('made_by', f'{"training" if training else "evaluation"} on cached features '
                                     f'({osp.basename(runner.cfg.filename or "config")})')
    ensure_features(model, dataset_cfg, sources, kinds, cache, model_id, dataloader.get('batch_size', 64),
                    dataloader.get('num_workers', 0), extraction, checkpoint=checkpoint)
    targets = None
    if training:
        if len(sources) != 1:
            raise ValueError(f'Training reads one ID-train set; the train dataset has {[s.name for s in sources]} '
                             f'(select one with the loop option `sets`).')
        train_set = find_set_features(cache, model_id, sources[0], kinds)
        if model.auxiliary_dataset is not None:  # e.g. outlier images: cached like the train set, then handed over
            from ..features import train_set_source
            aux_cfg = dict(model.auxiliary_dataset)
            aux_source = train_set_source(aux_cfg, name='auxiliary')
            ensure_features(model, aux_cfg, [aux_source], kinds, cache, model_id, dataloader.get('batch_size', 64),
                            dataloader.get('num_workers', 0), extraction, checkpoint=checkpoint)
            model.prepare_auxiliary_features(find_set_features(cache, model_id, aux_source, kinds))
        targets = model.prepare_cached_training(train_set, cache, work_dir=runner.log_dir, root_dir=runner.work_dir)
    view = dict(type=CachedFeatureDataset, source=dataset_cfg, model_id=model_id, cache_dir=cache.root,
                kinds=kinds, sets=sets, targets=targets, in_memory=in_memory, test_mode=not training)
    out = dict(dataloader, dataset=view, collate_fn=dict(type=feature_collate), num_workers=int(num_workers))
    if not num_workers:
        out['persistent_workers'] = False
        out.pop('prefetch_factor', None)
    return out


@LOOPS.register_module()
class OODTestLoop(TestLoop):
    """mmengine's ``TestLoop`` with data-loader defaults that use the machine (:func:`mmood.utils.loader_defaults`):
    ``num_workers='auto'`` resolved from the CPU count, pinned memory on CUDA, images stacked in the workers. The
    batch size is the config's; the workers stop at the end of the pass (see ``loader_defaults``)."""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False):
        from ..utils import loader_defaults
        if isinstance(dataloader, dict):
            dataloader = loader_defaults(dataloader)
        super().__init__(runner, dataloader, evaluator, fp16)


@LOOPS.register_module()
class CachedFeatureTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` over the cached features of ``train_dataloader``'s images.

    Args:
        runner: the runner.
        dataloader: the train dataloader config (an image dataset; its features are served).
        max_iters: total iterations (None: ``epochs`` × the model's ``steps_per_epoch``).
        val_begin: first iteration that may validate.
        val_interval: validation interval (iterations).
        dynamic_intervals: as ``IterBasedTrainLoop``.
        sets: keep only these sets of the dataset (names or groups).
        extraction: options of a missing extraction (``batch_size``, ``num_workers``, ``storage``...).
        num_workers: workers of the feature dataloader.
        in_memory: read the cached arrays into memory.
        epochs: with ``max_iters=None``, train ``epochs`` × ``model.steps_per_epoch`` iterations, the epoch length
            the model sets while preparing (TOE: one epoch = one pass over the outlier texts, TOE-4).
    """

    def __init__(self, runner, dataloader, max_iters: Optional[int] = None, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals=None, sets: Optional[Sequence[str]] = None,
                 extraction: Optional[Dict] = None, num_workers: int = 0, in_memory: bool = False,
                 epochs: Optional[int] = None):
        if (max_iters is None) == (epochs is None):
            raise ValueError('CachedFeatureTrainLoop takes max_iters or epochs (one of them)')
        dataloader = cached_feature_dataloader(runner, dataloader, True, sets, extraction, num_workers, in_memory)
        if max_iters is None:
            steps = _unwrap(runner.model).steps_per_epoch
            if not steps:
                raise ValueError('epochs=... needs a model that sets steps_per_epoch while preparing its training '
                                 '(e.g. TOEClassifier); give max_iters instead')
            max_iters = int(epochs) * int(steps)
            print_log(f'Training {epochs} epochs of {steps} iterations = {max_iters} iterations.', logger='current')
        super().__init__(runner, dataloader, max_iters, val_begin, val_interval, dynamic_intervals)


@LOOPS.register_module()
class CachedFeatureValLoop(ValLoop):
    """``ValLoop`` over the cached features of ``val_dataloader``'s images (options as the train loop)."""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False, sets: Optional[Sequence[str]] = None,
                 extraction: Optional[Dict] = None, num_workers: int = 0, in_memory: bool = False):
        dataloader = cached_feature_dataloader(runner, dataloader, False, sets, extraction, num_workers, in_memory)
        super().__init__(runner, dataloader, evaluator, fp16)


@LOOPS.register_module()
class CachedFeatureTestLoop(TestLoop):
    """``TestLoop`` over the cached features of ``test_dataloader``'s images (options as the train loop)."""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False, sets: Optional[Sequence[str]] = None,
                 extraction: Optional[Dict] = None, num_workers: int = 0, in_memory: bool = False):
        dataloader = cached_feature_dataloader(runner, dataloader, False, sets, extraction, num_workers, in_memory)
        super().__init__(runner, dataloader, evaluator, fp16)
