"""Scoring cached features without a Runner (``tools/score.py``): the test run's scoring path on cached rows.

A re-scoring run is a test run whose images are replaced by their cached features: the same model (the config's, with
the heads of ``--methods`` added, :func:`method_model_config`), the same per-batch call
(:meth:`OODModel.scores_from_features`, the function the model's ``predict`` scores images with), the same set-level
step (:meth:`OODModel.score_sets`), the same table (:class:`~mmood.evaluation.ScoredSamples`), metrics and writer.
Batches are consecutive rows of the cached split in dataset order; with ``test_dataloader.batch_size`` they are the
batches of a single-process test run, so every head sees exactly the inputs it saw there and the files equal the
test run's.
"""
import copy
import logging
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log

from ..evaluation import ScoredSamples
from ..models import OODModel
from ..models.heads import METHODS, MethodError, build_head, method_config
from ..utils.errors import ConfigError

__all__ = ['CONFIG', 'method_model_config', 'reported_scores', 'score_cached_split']

#: the method name of the config's own heads
CONFIG = 'config'
#: the prefix of the config's scores when they are not reported
HIDDEN = 'config_'


def method_model_config(model_cfg: Mapping[str, Any], methods: Sequence[str],
                        options: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Dict[str, Any]:
    """The model config of a re-scoring run: the config's model with the heads of the named methods
    (:data:`~mmood.models.heads.METHODS`, with ``options`` per method) added as extra heads, after the config's.

    A method whose score names are already given (by the config's reported heads or an earlier method) has them
    named ``<method>_<score>``. The config's own heads always stay (a trained model needs its head: PLP's probe,
    TOE's, NPOS's outlier MLP); without ``'config'`` among ``methods`` their scores are renamed ``config_<name>``
    (so a method may give a score of the same name, e.g. ``mcm`` with other options) and left out of the results
    (:func:`reported_scores`), and the first method's primary score is primary.

    Raises:
        MethodError: an unknown method, an unknown option, or options for ``config`` (they belong in
            ``--cfg-options``).
    """
    options = dict(options or {})
    if options.get(CONFIG):
        raise MethodError('"config" takes its options from the config: use --cfg-options model.head.X=...')
    cfg = copy.deepcopy(dict(model_cfg))
    if not any(name != CONFIG for name in methods) and CONFIG not in methods:
        raise MethodError(f'No method to score: name "config" or methods of {sorted(METHODS)}')
    own = [dict(cfg['head'])] + [dict(h) for h in cfg.get('extra_heads') or []]
    if CONFIG in methods:
        taken = {n for h in own for n in build_head(copy.deepcopy(h), 'model.head').score_names}
    else:
        own = [dict(h, prefix=f'{HIDDEN}{h.get("prefix", "")}') for h in own]
        cfg['primary_score'] = f'{HIDDEN}{cfg["primary_score"]}' if cfg.get('primary_score') else None
        taken = set()
    heads = []
    for name in methods:
        if name == CONFIG:
            continue
        head = method_config(name, options.get(name))
        names = set(build_head(copy.deepcopy(head), f'method "{name}"').score_names)
        if names & taken:  # a score name already given: this method's scores are named <method>_<score>
            head['prefix'] = f'{name}_{head.get("prefix", "")}'
            print_log(f'method "{name}": its scores {sorted(names & taken)} are already given; named '
                      f'"{name}_<score>" here', logger='current', level=logging.WARNING)
            names = {f'{name}_{n}' for n in names}
        taken |= names
        heads.append(head)
    cfg.update(head=own[0], extra_heads=own[1:] + heads)
    return cfg


def reported_scores(model: OODModel, methods: Sequence[str]) -> Dict[str, Any]:
    """What a re-scoring run reports of a model built by :func:`method_model_config`: ``dict(names=[...],
    primary_score=..., replicates={...})`` -- every score when ``'config'`` is among ``methods``, else those of the
    methods' heads only."""
    names = [n for n in model.score_names if CONFIG in methods or not n.startswith(HIDDEN)]
    primary = model.primary_score if model.primary_score in names else names[0]
    replicates = {b: list(r) for b, r in model.score_replicates.items() if all(n in names for n in r)}
    return dict(names=names, primary_score=primary, replicates=replicates)


def score_cached_split(model: OODModel, split: Any, batch_size: int, device: Any = 'cpu',
                       progress: bool = False) -> ScoredSamples:
    """Score every sample of a :class:`~mmood.features.FeatureSplit` as the test run scores its images.

    Returns:
        The :class:`~mmood.evaluation.ScoredSamples` of the split (dataset order; no sample is skipped: unreadable
        images are never cached).
    """
    if not isinstance(model, OODModel):
        raise ConfigError(f'{type(model).__name__} is not an OOD model (mmood.models.OODModel)')
    if model.scores_need_images:
        raise ConfigError(f'{type(model).__name__} scores images, not features (e.g. ODIN perturbs the input image '
                          f'with the gradient of the image tower): run tools/test.py CONFIG; cached features cannot '
                          f'be re-scored')
    kinds = tuple(model.feature_kinds)
    missing = [k for k in kinds if k not in split.kinds]
    if missing:
        raise ConfigError(f'The cached split lacks the feature kinds {missing} the model reads (cached: {split.kinds})')
    chunks: Dict[str, list] = {}
    preds = []
    batches = split.iter_batches(kinds, batch_size, device)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, total=(len(split) + batch_size - 1) // batch_size, desc='scoring', unit='batch')
    with torch.no_grad():
        for feats in batches:
            logits, scores = model.scores_from_features(feats)
            preds.append(logits.float().softmax(dim=1).argmax(dim=1).cpu())
            for name, value in scores.items():
                chunks.setdefault(name, []).append(value.detach().float().reshape(-1).cpu())
    # sample-level scores in the heads' order, then the set-level ones: the order of the test run's table
    values = {name: torch.cat(c).double().numpy() for name, c in chunks.items()}
    if model.set_level_scores:
        whole = {k: torch.from_numpy(split.rows(k, 0, len(split))) for k in model.set_level_feature_kinds}
        values.update(model.score_sets(whole, split.set_ids))
    paths = [p for cset in split.sets for p in cset.paths()]
    return ScoredSamples(idx=np.arange(len(split)), set_ids=np.asarray(split.set_ids), labels=split.labels,
                         preds=torch.cat(preds).numpy(), paths=paths, scores=values, primary_score=model.primary_score)
