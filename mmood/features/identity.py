"""What a cached feature array depends on: the cache key parts, the sets of a config, and file manifests.

A feature entry holds one **feature kind** of one **set** of images: the ID test set or one OOD set of the
config's ``test_dataloader`` (an :class:`~mmood.datasets.OODEvalDataset`), or the whole ID training set of the
optional ``id_train_dataloader`` (any dataset with labels, for KNN / Mahalanobis banks). Its key parts are:

* ``model``: the backbone identity (open_clip model name, pretrained tag, weights-file identity from path, size
  and mtime, activation, open_clip version, precision), the data preprocessor (mean, std, channel order) and an
  optional fine-tuned checkpoint's file identity;
* ``pipeline``: the dataset's preprocessing pipeline as written in the config, with the loading steps' decoding
  options written out (:func:`~mmood.datasets.with_decoding_defaults`), so a change of decoding default changes it;
* ``source``: the set's config entry (paths as written, ``max_per_set``), without display-only fields (``name``,
  ``group``): renaming a set or adding another OOD set does not invalidate what is stored;
* ``feature``: ``global``, ``local`` or ``pre_proj``; ``storage``: ``float32`` or ``float16``;
* :data:`~mmood.cache.CACHE_FORMAT_VERSION` (added by :func:`~mmood.cache.make_key`).

The key is computed from the config alone, so a cache is found after the image folders are gone. The **manifest**
(every file path and label, stored in the entry, with its digest in ``meta.json``) is what was extracted: the
extractor re-extracts when a rescan disagrees with it, and ``tools/score.py`` checks it when the images are still
there.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..cache import file_identity, hash_strings
from ..datasets.transforms import with_decoding_defaults
from ..utils.errors import ConfigError

FEATURE_NAMESPACE = 'features'
SPLITS = ('id_train', 'id_test', 'ood')
STORAGE_DTYPES = ('float32', 'float16')
#: set-spec fields that only label a set in tables; they are not part of the key.
DISPLAY_FIELDS = ('name', 'group')
#: dataset-config fields that do not change which samples a dataset yields.
NON_CONTENT_FIELDS = ('pipeline', 'lazy_init', 'serialize_data', 'test_mode', 'check_files')


@dataclass
class SetSource:
    """One set of images whose features are cached as one entry per kind.

    Attributes:
        name: display name (``ImageNet``, ``iNaturalist``...).
        split: ``'id_train'``, ``'id_test'`` or ``'ood'``.
        group: ``'id'``, ``'near'`` or ``'far'``.
        set_id: position in the test dataset (0 = ID, i = i-th OOD set); 0 for ``id_train``.
        identity: key part naming the samples (config entry without display fields).
        pipeline: the dataset pipeline config (key part).
        spec: the set specification (test sets) or dataset config (``id_train``), for rescans.
    """
    name: str
    split: str
    group: str
    set_id: int
    identity: Dict[str, Any]
    pipeline: Any
    spec: Dict[str, Any] = field(default_factory=dict)


def _plain(obj: Any) -> Any:
    """ConfigDict / tuples -> plain dicts and lists (for keys and JSON)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _type_name(obj: Any) -> str:
    if isinstance(obj, str):
        return obj.split('.')[-1]
    return getattr(obj, '__name__', str(obj))


def eval_set_sources(dataset_cfg: dict) -> List[SetSource]:
    """The sets of a test dataset config, in set-id order (ID first, then the OOD sets).

    Args:
        dataset_cfg: ``cfg.test_dataloader.dataset``; must be an ``OODEvalDataset`` config.

    Returns:
        One :class:`SetSource` per set.

    Raises:
        ConfigError: the config is not an ``OODEvalDataset`` (a ``ValueError``).
    """
    from ..datasets import resolve_sets
    dataset_cfg = _plain(dataset_cfg)
    if _type_name(dataset_cfg.get('type')) != 'OODEvalDataset':
        raise ConfigError(f'Feature caching of test sets (--save-features, tools/score.py, '
                          f'tools/extract_features.py) needs test_dataloader.dataset of type OODEvalDataset (image '
                          f'folders or lists), got {dataset_cfg.get("type")!r}; evaluate it with tools/test.py.')
    pipeline = dataset_cfg.get('pipeline', [])
    max_per_set = dataset_cfg.get('max_per_set')
    id_spec, ood_specs, _ = resolve_sets(dataset_cfg)
    specs = [(id_spec, True)] + [(s, False) for s in ood_specs]
    out = []
    for set_id, (spec, is_id) in enumerate(specs):
        keyed = {k: v for k, v in spec.items() if k not in DISPLAY_FIELDS}
        identity = dict(dataset='OODEvalDataset', role='id' if is_id else 'ood', spec=keyed,
                        max_per_set=max_per_set)
        out.append(SetSource(name=str(spec['name']), split='id_test' if is_id else 'ood',
                             group='id' if is_id else spec['group'], set_id=set_id, identity=identity,
                             pipeline=pipeline, spec=spec))
    return out


def train_set_source(dataset_cfg: dict, name: str = 'ID-train') -> SetSource:
    """The ID training set of ``id_train_dataloader.dataset`` (any labelled dataset) as one source."""
    dataset_cfg = _plain(dataset_cfg)
    keyed = {k: v for k, v in dataset_cfg.items() if k not in NON_CONTENT_FIELDS}
    return SetSource(name=name, split='id_train', group='id', set_id=0,
                     identity=dict(role='id_train', dataset=keyed), pipeline=dataset_cfg.get('pipeline', []),
                     spec=dataset_cfg)


def preprocessor_identity(preprocessor: Any) -> Dict[str, Any]:
    """What a data preprocessor does to the decoded images (mean, std, channel order, padding; the resize and crop
    of one that decodes on the GPU)."""
    out: Dict[str, Any] = dict(type=type(preprocessor).__name__)
    for name in ('mean', 'std'):
        value = getattr(preprocessor, name, None)
        if value is not None and hasattr(value, 'flatten'):
            out[name] = [float(v) for v in value.flatten().tolist()]
    for name in ('_channel_conversion', '_enable_normalize', 'pad_size_divisor', 'pad_value', 'scale', 'edge',
                 'interpolation', 'crop_size'):  # the last four: GPU decoding's resize and crop
        if hasattr(preprocessor, name):
            value = getattr(preprocessor, name)
            out[name.lstrip('_')] = value if isinstance(value, (bool, int, float)) else repr(value)
    return out


def model_identity(model: Any, checkpoint: Optional[str] = None) -> Dict[str, Any]:
    """Key part ``model`` of a classifier with an :class:`~mmood.models.backbones.OpenCLIPBackbone`.

    Args:
        model: a model with ``backbone.identity`` and ``data_preprocessor`` (``CLIPOODClassifier``).
        checkpoint: a checkpoint loaded on top of the backbone weights (``load_from``), or None. Ignored when
            the model declares that its checkpoints do not change the image features
            (:meth:`OODModel.feature_checkpoint`: a linear probe's checkpoint holds no image-tower weights).
    """
    from ..models.protocol import OODModel
    if isinstance(model, OODModel):
        checkpoint = model.feature_checkpoint(checkpoint)
    return dict(backbone=dict(model.backbone.identity), preprocessor=preprocessor_identity(model.data_preprocessor),
                checkpoint=file_identity(checkpoint) if checkpoint else None)


def feature_key_parts(model_id: Dict[str, Any], source: SetSource, kind: str, storage: str = 'float32'
                      ) -> Dict[str, Any]:
    """The key parts of one feature entry (see the module docstring)."""
    if storage not in STORAGE_DTYPES:
        raise ValueError(f'storage must be one of {STORAGE_DTYPES}, got {storage!r}')
    return dict(kind='image_features', model=model_id, pipeline=_plain(with_decoding_defaults(source.pipeline)),
                source=source.identity, feature=kind, storage=storage)


# ---------------------------------------------------------------------- manifests
def manifest_digest(paths: Sequence[str], labels: Sequence[int]) -> str:
    """Digest of the ordered (path, label) list of a set."""
    return hash_strings(f'{p}\t{int(lab)}' for p, lab in zip(paths, labels))


def encode_strings(strings: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Strings -> (concatenated UTF-8 bytes as uint8, int64 offsets of length n + 1): compact, memory-mappable."""
    blobs = [s.encode('utf-8') for s in strings]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs], dtype=np.int64)
    data = np.frombuffer(b''.join(blobs), dtype=np.uint8) if blobs else np.zeros(0, dtype=np.uint8)
    return data, offsets


def decode_strings(data: np.ndarray, offsets: np.ndarray) -> List[str]:
    """Inverse of :func:`encode_strings`."""
    raw = np.asarray(data).tobytes()
    offsets = np.asarray(offsets).tolist()
    return [raw[a:b].decode('utf-8') for a, b in zip(offsets[:-1], offsets[1:])]
