"""Textual outlier lists written before training (``tools/dataset_converters/make_text_outliers.py``).

A model declares textual outliers through its config: ``model.outliers`` (the level, source file and options of
:mod:`mmood.text.outliers`). Training writes a missing list itself; this writes it first, to look at it or to
regenerate it.
"""
import sys
from typing import List, Optional, TextIO

__all__ = ['make_text_outliers']


def make_text_outliers(config: str, level: Optional[str] = None, source: Optional[str] = None,
                       allow_pickle: bool = False, work_dir: Optional[str] = None, device: Optional[str] = None,
                       force: bool = False, cache_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                       out: Optional[TextIO] = None) -> List[str]:
    """Write the textual outlier list of a config whose model declares textual outliers (``model.outliers``).

    The list goes to ``model.outliers.file``, default ``<work_dir>/<the model's list name>``: a header saying how
    it was made, then one outlier prompt per line; training then reads it. A caption-level filter with the model's
    tower reads, and if needed extracts, the ID-train features.

    Args:
        config: the config file.
        level: the outlier level (default: the config's; :data:`mmood.text.OUTLIER_LEVELS`).
        source: the input file of the level (word list, descriptor JSON, captions); for the word level it also
            selects the list as the word source.
        allow_pickle: read an object ``.npy`` (pickle can run code: trusted files only).
        work_dir: where the list goes by default (default: the config's, else ``./work_dirs/<config name>``).
        device: e.g. ``'cpu'``, ``'cuda:0'`` (default: CUDA when available).
        force: write the list again even if it exists.
        cache_dir: the shared cache (default: :func:`~mmood.apis.resolve_cache_dir`).
        cfg_options: config overrides.
        out: where the summary is printed (default ``sys.stdout``).

    Returns:
        The outlier prompts.

    Raises:
        ConfigError: the config's model declares no textual outliers.
    """
    from ..cache import CacheStore
    from ..engine import ensure_features
    from ..features import find_set_features, model_identity, train_set_source
    from ..features.runtime import build_model, resolve_device
    from ..utils import ConfigError
    from .config import load_config, set_work_dir
    cfg = set_work_dir(load_config(config, cfg_options, cache_dir), config, work_dir)
    if cfg.model.get('outliers') is None:
        raise ConfigError(f'{config} declares no textual outliers (model.outliers; model.type = '
                          f'{cfg.model.get("type")})')
    outliers = dict(cfg.model.outliers)
    for key, value in (('level', level), ('source', source)):
        if value is not None:
            outliers[key] = value
    if source is not None and outliers.get('level') == 'word' and 'word_source' in outliers:
        outliers['word_source'] = 'list'  # a word list named on the command line is the source
    if allow_pickle:
        outliers['allow_pickle'] = True
    cfg.model.outliers = outliers
    model = build_model(cfg, None, resolve_device(device))
    cache = CacheStore(cfg.cache_dir)

    def train_set():  # the caption filter's class means with this model's tower: the cached ID-train features
        loader = cfg.train_dataloader
        source = train_set_source(loader.dataset)
        model_id = model_identity(model)
        ensure_features(model, loader.dataset, [source], model.cached_input_kinds, cache, model_id,
                        loader.get('batch_size', 64), loader.get('num_workers', 0),
                        dict(made_by=f'tools/dataset_converters/make_text_outliers.py {config}'))
        return find_set_features(cache, model_id, source, model.cached_input_kinds)

    texts = model.outlier_texts(cfg.work_dir, cache, train_set, force=force)
    print(f'{len(texts)} {outliers.get("level", "description")}-level outliers ({len(set(texts))} unique): '
          f'{model.outlier_list_path(cfg.work_dir)}', file=out or sys.stdout)
    return texts
