"""Image features extracted once into the shared cache (``tools/extract_features.py``)."""
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

__all__ = ['extract_features']


def extract_features(config: str, checkpoint: Optional[str] = None, splits: Sequence[str] = ('id_test', 'ood'),
                     kinds: Optional[Sequence[str]] = None, fp16: bool = False, shard_size: int = 2048,
                     batch_size: Optional[int] = None, num_workers: Optional[int] = None,
                     device: Optional[str] = None, force: bool = False, progress: bool = True,
                     cache_dir: Optional[str] = None, cfg_options: Optional[dict] = None, launcher: str = 'none',
                     made_by: Optional[str] = None, out: Optional[TextIO] = None) -> List[Dict[str, Any]]:
    """Extract the image features of a config's sets into the feature cache (resumable; every rank of a
    distributed launch calls this), and print where each set's features are (rank 0).

    Args:
        config: the config file.
        checkpoint: loaded on top of the open_clip weights (None or ``'none'``: no checkpoint).
        splits: ``id_test`` (the ID set of ``test_dataloader``), ``ood`` (its OOD sets), ``id_train`` (the config's
            ``id_train_dataloader``).
        kinds: feature kinds (default: the model's :attr:`~mmood.models.OODModel.feature_kinds`, ``global`` for
            another model).
        fp16: store float16 (half the disk space).
        shard_size: images per resumable shard.
        batch_size, num_workers: default: the dataloader config's.
        device: e.g. ``'cpu'``, ``'cuda:0'`` (default: CUDA when available).
        force: extract again even if cached.
        progress: show progress bars.
        cache_dir: the feature cache (default: :func:`~mmood.apis.resolve_cache_dir`).
        cfg_options: config overrides.
        launcher: ``'none'`` or a launcher whose process group this call initialises.
        made_by: provenance written with the features (default: the command that makes them).
        out: where the summary is printed (default ``sys.stdout``).

    Returns:
        One report dict per set and kind (``set``, ``split``, ``kind``, ``num_samples``, ``status``, ``key``).
    """
    from mmengine.dist import get_dist_info, init_dist
    from mmpretrain.registry import DATASETS

    from ..cache import CacheStore
    from ..features import eval_set_sources, train_set_source
    from ..features import extract_features as extract_sets
    from ..features.runtime import build_model, resolve_device
    from ..models.protocol import OODModel
    from ..utils import ConfigError
    from .config import load_config
    out = out or sys.stdout
    cfg = load_config(config, cfg_options, cache_dir)
    if launcher != 'none':
        init_dist(launcher, backend=cfg.env_cfg.dist_cfg.backend)
    rank, _ = get_dist_info()
    checkpoint = checkpoint if checkpoint and checkpoint.lower() != 'none' else None
    model = build_model(cfg, checkpoint, resolve_device(device))
    kinds = list(kinds or (model.feature_kinds if isinstance(model, OODModel) else ('global', )))
    cache = CacheStore(cfg.cache_dir)
    made_by = made_by or f'tools/extract_features.py {config}'
    jobs = []
    test_splits = [s for s in splits if s in ('id_test', 'ood')]
    if test_splits:
        sources = [s for s in eval_set_sources(cfg.test_dataloader.dataset) if s.split in test_splits]
        jobs.append((cfg.test_dataloader, sources))
    if 'id_train' in splits:
        if cfg.get('id_train_dataloader') is None:
            raise ConfigError('--splits id_train needs an `id_train_dataloader` in the config: a labelled dataset '
                              'of ID training images with the test pipeline, e.g. id_train_dataloader = dict('
                              "batch_size=256, num_workers=8, dataset=dict(type='CustomDataset', "
                              "data_root='data/imagenet/train', pipeline=test_pipeline))")
        jobs.append((cfg.id_train_dataloader, [train_set_source(cfg.id_train_dataloader.dataset)]))
    report = []
    for loader_cfg, sources in jobs:
        dataset = DATASETS.build(loader_cfg.dataset)
        report += extract_sets(
            model, dataset, sources, kinds, cache, storage='float16' if fp16 else 'float32',
            batch_size=batch_size or loader_cfg.get('batch_size', 64),
            num_workers=num_workers if num_workers is not None else loader_cfg.get('num_workers', 0),
            shard_size=shard_size, checkpoint=checkpoint, made_by=made_by, progress=progress, force=force)
    if rank == 0:
        print(f'Feature cache: {cache.root}', file=out)
        width = max([len(r['set']) for r in report] + [3])
        for r in report:
            print(f'  {r["set"]:<{width}}  {r["split"]:<8}  {r["kind"]:<8}  {r["num_samples"]:>8} images  '
                  f'{r["status"]:<9}  {r["key"]}', file=out)
    return report
