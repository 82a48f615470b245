"""Testing a config (``tools/test.py``): MMPretrain's test run plus the cache folder, features saved on request."""
from typing import Any, Dict, Optional

from mmengine.config import Config

__all__ = ['test_config', 'test']


def test_config(config: str, checkpoint: Optional[str] = None, work_dir: Optional[str] = None,
                cache_dir: Optional[str] = None, cfg_options: Optional[dict] = None, launcher: str = 'none',
                save_features: bool = False, out: Optional[str] = None) -> Config:
    """The config :func:`test` runs: :func:`~mmood.apis.load_runner_config`, the checkpoint (``'none'`` = none) as
    ``load_from``, mmood's run hooks (:data:`mmood.engine.OOD_HOOKS`) added when a config lacks them, and

    * ``save_features``: :class:`~mmood.engine.SaveFeaturesHook` (the run's image features into the feature cache,
      so ``tools/score.py`` re-scores them without images);
    * ``out``: mmengine's ``DumpResults`` (the raw predictions as a pickle).
    """
    from ..engine import OOD_HOOKS
    from .config import load_runner_config
    cfg = load_runner_config(config, cfg_options, launcher, work_dir, cache_dir)
    if checkpoint and checkpoint.lower() != 'none':
        cfg.load_from = checkpoint
    hooks = list(cfg.get('custom_hooks', []))
    present = {str(h.get('type')).split('.')[-1] for h in hooks}
    hooks += [dict(type=name) for name in OOD_HOOKS if name not in present]  # a config without mmood's runtime
    if save_features:
        hooks.append(dict(type='SaveFeaturesHook', cache_dir=cfg.cache_dir, checkpoint=cfg.get('load_from'),
                          made_by=f'tools/test.py --save-features {config}'))
    cfg.custom_hooks = hooks
    if out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='DumpResults', out_file_path=out)]
    return cfg


def test(config: str, checkpoint: Optional[str] = None, **kwargs: Any) -> Dict[str, float]:
    """Test ``config`` (optionally over ``checkpoint``) and return its metrics; the run writes
    ``per_sample_results.csv``, the report and ``metrics.json`` into its log directory (``OODResultsHook``).
    Keyword arguments: those of :func:`test_config`."""
    from .runner import run_runner
    return run_runner(test_config(config, checkpoint, **kwargs), 'test')[1]
