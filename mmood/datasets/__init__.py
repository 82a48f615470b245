"""Datasets: the ID+OOD evaluation dataset, the benchmark table, the set reader, the digits demo data, image-caption
pairs (webdataset tar shards or a TSV file) for contrastive training."""
from .collate import stack_collate
from .benchmarks import BENCHMARKS, MOS_FAR_OOD, benchmark_sets, list_benchmarks
from .benchmark_set import BenchmarkSetImages
from .digits import DIGIT_WORDS, DigitsCaptionDataset, DigitsOODDataset, RandomCaption, digits_split
from .image_caption import ImageCaptionDataset, expand_braces, index_shard, resolve_shards
from .ood_eval import OODEvalDataset
from .small_ood import (LoadImageOrArray, SeededSubsetFolder, SVHNMatDataset, seeded_subset,
                        svhn_selection)
from .set_spec import (GROUPS, IMG_EXTENSIONS, collect_set, label_problems, overlap_problems, read_set, resolve_sets,
                       scan_images)
from .transforms import (DECODING_DEFAULTS, LoadEncodedImage, LoadOODImage, PillowLoadResizeEdge, decode_image,
                         decoding_options, describe_pipeline, fuse_pipeline, pil_to_bgr, to_8bit, unreadable_images,
                         with_decoding_defaults)

__all__ = [
    'BenchmarkSetImages',
    'IMG_EXTENSIONS', 'GROUPS', 'OODEvalDataset', 'collect_set', 'read_set', 'resolve_sets', 'scan_images',
    'label_problems', 'BENCHMARKS', 'MOS_FAR_OOD', 'benchmark_sets', 'list_benchmarks', 'DIGIT_WORDS',
    'DigitsCaptionDataset', 'DigitsOODDataset', 'RandomCaption', 'digits_split', 'overlap_problems', 'LoadOODImage',
    'pil_to_bgr', 'to_8bit', 'decode_image', 'unreadable_images', 'PillowLoadResizeEdge', 'fuse_pipeline',
    'stack_collate', 'LoadEncodedImage', 'ImageCaptionDataset', 'expand_braces', 'index_shard', 'resolve_shards',
    'DECODING_DEFAULTS', 'decoding_options', 'describe_pipeline', 'with_decoding_defaults',
    'LoadImageOrArray', 'SeededSubsetFolder', 'SVHNMatDataset', 'seeded_subset', 'svhn_selection'
]
