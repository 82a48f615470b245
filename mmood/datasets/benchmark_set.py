"""The images of one set of a benchmark's table as an unlabelled dataset (e.g. training outliers).

TOE's real/virtual study (Park et al., NeurIPS 2023, arXiv 2310.16492; docs/toe.md) exposes a head to the images of
Textures, Places, SUN or iNaturalist; the folders are those of the ``imagenet_mos`` benchmark, so this reads them from
the benchmark table (:func:`mmood.datasets.benchmark_sets`) instead of repeating the paths in configs.
"""
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

from ..utils.errors import ConfigError

__all__ = ['BenchmarkSetImages']


@DATASETS.register_module()
class BenchmarkSetImages(CustomDataset):
    """Every image under the folder of set ``set_name`` of ``benchmark`` (found recursively, no labels).

    Args:
        benchmark: a benchmark name (:data:`mmood.datasets.BENCHMARKS`).
        set_name: one of its OOD sets (or its ID set) given by a folder.
        benchmark_root: the folder the table's paths start from (``data``).
        kwargs: ``CustomDataset`` options (``pipeline``...).
    """

    def __init__(self, benchmark: str, set_name: str, benchmark_root: str = 'data', **kwargs):
        from .benchmarks import benchmark_sets
        table = benchmark_sets(benchmark, benchmark_root)
        sets = [table['id_set']] + list(table['ood_sets'])
        found = [s for s in sets if s.get('name') == set_name]
        if not found:
            raise ConfigError(f'benchmark {benchmark!r} has no set {set_name!r}: {[s.get("name") for s in sets]}')
        if not found[0].get('data_root') or found[0].get('ann_file') or found[0].get('dataset'):
            raise ConfigError(f'set {set_name!r} of {benchmark!r} is not a plain image folder')
        self.benchmark, self.set_name = benchmark, set_name
        super().__init__(data_root=found[0]['data_root'], with_label=False, **kwargs)
