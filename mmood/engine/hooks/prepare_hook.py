"""``OODPrepareHook``: the model's text side, fitted heads and the metric's score declarations before a run."""
import logging
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ...models import OODModel
from ...utils.errors import ConfigError
from .utils import ood_metrics_of, unwrap

__all__ = ['OODPrepareHook', 'fit_heads_from_cache']


def fit_heads_from_cache(model: OODModel, cfg, checkpoint: Optional[str] = None,
                         config_path: Optional[str] = None) -> None:
    """Fit the model's heads that need ID-train statistics on the cached features of ``cfg.id_train_dataloader``.

    Missing features are extracted first (once, into the feature cache; progress bar; every rank takes part) with
    the model's frozen tower. The fitted statistics are cached too (:func:`~mmood.engine.fitting.fit_heads_cached`):
    a head fitted before on the same features, with the same options and prompts, is loaded, not fitted. Every rank
    reads the cache and loads or fits (deterministic), so no broadcast is needed.

    Raises:
        ConfigError: no ``id_train_dataloader`` in the config, or no cache directory.
    """
    heads = model.heads_to_fit()
    if not heads:
        return
    from ...cache import CacheStore
    from ...features import find_set_features, model_identity, train_set_source
    from ..fitting import fit_heads_cached
    from ..loops import ensure_features
    names = ', '.join(type(h).__name__ for h in heads)
    if cfg.get('id_train_dataloader') is None:
        raise ConfigError(f'{names} fits ID-train statistics, but the config has no `id_train_dataloader`: add a '
                          f"labelled dataset of ID training images with the test pipeline, e.g. id_train_dataloader"
                          f" = dict(batch_size=256, num_workers=8, dataset=dict(type='CustomDataset', "
                          f"data_root='data/imagenet/train', pipeline=test_pipeline))")
    if not model.cache_dir:
        raise ConfigError(f'{names} reads the ID-train features from the feature cache: set `model.cache_dir` (the '
                          f'tools fill it in from --cache-dir, or give it in the config).')
    kinds = tuple(dict.fromkeys(k for h in heads for k in h.feature_kinds))
    loader = cfg.id_train_dataloader
    cache = CacheStore(model.cache_dir)
    model_id = model_identity(model, checkpoint)
    source = train_set_source(loader.dataset)
    made_by = f'ID-train features for {names} ({osp.basename(config_path or "config")})'
    ensure_features(model, dict(loader.dataset), [source], kinds, cache, model_id, loader.get('batch_size', 64),
                    loader.get('num_workers', 0), dict(made_by=made_by), checkpoint=checkpoint)
    cset = find_set_features(cache, model_id, source, kinds)
    print_log(f'Fitting {names} on {cset.num_samples} cached ID-train features ({", ".join(kinds)}), or loading '
              f'their fitted statistics from the cache.', logger='current', level=logging.INFO)
    fit_heads_cached(model, cset, cache, model_id, model.id_text.device)


@HOOKS.register_module()
class OODPrepareHook(Hook):
    """Prepare an :class:`~mmood.models.OODModel` before validation/testing (and training), on every rank.

    * ``model.prepare(work_dir=...)``: ID prototypes are encoded and NegLabel negatives mined (once, on rank 0,
      cached and broadcast); the mined words land in the run's log directory;
    * the test data's classes are checked against the model's (:meth:`OODModel.check_dataset_classes`);
    * heads fitted on ID-train features (``KNNHead``, ``MahalanobisHead`` as a config head) get them from the
      feature cache (:func:`fit_heads_from_cache`);
    * the evaluator's :class:`~mmood.evaluation.OODMetric` receives the model's score declarations (primary score,
      replicate groups, set-level score names) -- data, never the model;
    * a checkpoint the Runner loads (``load_from``, ``tools/test.py CONFIG CHECKPOINT``, resume) must belong to the
      model: every key maps onto it with its shape, and what the method trains is there
      (:func:`mmood.utils.check_checkpoint`), else the run stops with the keys and the fix.

    A model that is not an ``OODModel`` (e.g. ``CLIPContrastiveModel``, which trains the digits CLIP) is left alone.
    """
    priority = 'VERY_HIGH'

    def _prepare(self, runner, evaluator=None) -> None:
        model = unwrap(runner.model)
        if not isinstance(model, OODModel):
            return
        checkpoint = runner.cfg.get('load_from')
        model.prepare(work_dir=runner.log_dir, checkpoint=checkpoint)
        if evaluator is None:
            return
        model.check_dataset_classes((evaluator.dataset_meta or {}).get('classes'), 'the test data')
        fit_heads_from_cache(model, runner.cfg, checkpoint, runner.cfg.filename)
        for metric in ood_metrics_of(evaluator):
            metric.declare_scores(primary_score=model.primary_score, replicates=model.score_replicates,
                                  set_level=model.set_level_scores)

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        """Refuse a checkpoint that does not belong to the model before mmengine loads it (non-strictly), and
        record what it loads (``metrics.json``, report)."""
        from ...utils import check_checkpoint, checkpoint_record
        model = unwrap(runner.model)
        path = runner.cfg.get('load_from')
        loaded = check_checkpoint(model, checkpoint, path)
        if path and osp.isfile(path) and loaded['keys'] and isinstance(model, OODModel):
            model.checkpoint_record = checkpoint_record(path, loaded)

    def before_test(self, runner) -> None:
        self._prepare(runner, runner.test_loop.evaluator)

    def before_val(self, runner) -> None:
        self._prepare(runner, runner.val_loop.evaluator)

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if isinstance(model, OODModel) and model.prepare_before_train:  # not a model whose text side trains
            self._prepare(runner)
