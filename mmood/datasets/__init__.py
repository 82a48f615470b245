"""Datasets: the ID+OOD evaluation dataset (image-caption and feature datasets join here)."""
from .ood_eval import IMG_EXTENSIONS, OODEvalDataset, collect_set, scan_images
from .digits import DIGIT_WORDS, DigitsCaptionDataset, DigitsOODDataset, RandomCaption, digits_split
from .features import CachedFeatureDataset, feature_collate

__all__ = [
    'IMG_EXTENSIONS', 'OODEvalDataset', 'collect_set', 'scan_images', 'DIGIT_WORDS', 'DigitsCaptionDataset',
    'DigitsOODDataset', 'RandomCaption', 'digits_split', 'CachedFeatureDataset', 'feature_collate'
]
