"""Datasets: the ID+OOD evaluation dataset (image-caption and feature datasets join here)."""
from .ood_eval import IMG_EXTENSIONS, OODEvalDataset, collect_set, scan_images

__all__ = ['IMG_EXTENSIONS', 'OODEvalDataset', 'collect_set', 'scan_images']
from .features import CachedFeatureDataset, feature_collate  # noqa: F401,E402
