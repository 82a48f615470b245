"""Extract once, score many: image features cached per (model, preprocessing, set, kind).

* :mod:`.identity` -- the key parts of a feature entry, the sets of a config, file manifests.
* :mod:`.extract` -- resumable, sharded, multi-process extraction (``tools/extract_features.py``).
* :mod:`.store` -- finding the entries from a config (even after the image folders are gone) and reading them
  back in dataset order (``tools/score.py``).
* :mod:`.dataset` -- :class:`CachedFeatureDataset`, the cached features of an image dataset served as a dataset
  (training and evaluating without decoding an image).

What a test run computed is cached by :class:`mmood.engine.SaveFeaturesHook` (``tools/test.py --save-features``).
"""
from .dataset import CachedFeatureDataset, FeatureBatch, dataset_sources, feature_collate
from .extract import FeatureEntryWriter, commit_feature_entry, dataset_manifest, extract_features, set_indices
from .identity import (FEATURE_NAMESPACE, SPLITS, STORAGE_DTYPES, SetSource, decode_strings, encode_strings,
                       eval_set_sources, feature_key_parts, manifest_digest, model_identity, train_set_source)
from .store import (CachedSet, FeatureSplit, MissingFeaturesError, current_manifest_digest, find_set_features,
                    load_eval_split, load_train_set)

__all__ = [
    'FEATURE_NAMESPACE', 'SPLITS', 'STORAGE_DTYPES', 'SetSource', 'eval_set_sources', 'train_set_source',
    'feature_key_parts', 'model_identity', 'manifest_digest', 'encode_strings', 'decode_strings',
    'extract_features', 'set_indices', 'dataset_manifest', 'commit_feature_entry', 'FeatureEntryWriter',
    'CachedSet', 'FeatureSplit', 'MissingFeaturesError', 'find_set_features',
    'load_eval_split', 'load_train_set', 'current_manifest_digest', 'CachedFeatureDataset', 'FeatureBatch',
    'dataset_sources', 'feature_collate'
]
