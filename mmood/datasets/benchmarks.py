"""One table of OOD benchmarks: each benchmark's sets, groups, class names and default paths, written once.

Like OpenOOD's ``DATA_INFO``. The ``_base_`` dataset configs name a benchmark (``OODEvalDataset(benchmark=...,
benchmark_root='data')``) instead of repeating its sets, and ``tools/verify_data.py --benchmark NAME`` checks the
default paths without a config. Paths are relative to the root (``data/`` by default; README "Data" shows the
tree); ``resolve_path`` then resolves them against the working directory, else the repository.

Explicit ``id_set`` / ``ood_sets`` in a dataset config replace the table's, so any set can be re-pointed with
``--cfg-options``; ``benchmark_root`` moves the whole tree.
"""
import copy
import os.path as osp
from typing import Any, Dict, List

from ..utils.errors import ConfigError

__all__ = ['BENCHMARKS', 'MOS_FAR_OOD', 'benchmark_sets', 'list_benchmarks']

#: The MOS far-OOD four (Huang & Li, CVPR 2021): iNaturalist, SUN, Places (10,000 images each) and Textures (DTD,
#: 5,640), scanned recursively.
MOS_FAR_OOD: List[dict] = [
    dict(name='iNaturalist', data_root='ood_data/iNaturalist', group='far'),
    dict(name='SUN', data_root='ood_data/SUN', group='far'),
    dict(name='Places', data_root='ood_data/Places', group='far'),
    dict(name='Textures', data_root='ood_data/Textures', group='far'),
]
_IMAGENET_VAL = dict(name='ImageNet', data_root='imagenet/val', ann_file='imagenet/meta/val.txt')
_OPENOOD_LIST = 'openood/benchmark_imglist/imagenet/'
_OPENOOD_IMAGES = 'openood/images_largescale'


def _openood(name: str, file: str, group: str) -> dict:
    return dict(name=name, ann_file=_OPENOOD_LIST + file, data_prefix=_OPENOOD_IMAGES, group=group)


def _cifar(kind: str, group: str = None) -> dict:
    root = 'cifar10' if kind == 'CIFAR10' else 'cifar100'
    out = dict(name=kind.replace('CIFAR', 'CIFAR-'),
               dataset=dict(type=kind, data_root=root, split='test', download=False))
    if group:
        out['group'] = group
    return out


def _subset(n: int, split: str, group: str = None) -> dict:
    out = dict(name=f'ImageNet-{n}' + ('' if split == 'val' else f' {split}'), data_root=f'imagenet{n}/{split}',
               folder_order=f'txtfiles/imagenet{n}_wnids.txt')
    if group:
        out['group'] = group
    return out


#: name -> ``description``, ``class_names``, ``id_set``, ``ood_sets`` (set specifications, paths relative to the
#: root; see :mod:`mmood.datasets.set_spec`).
BENCHMARKS: Dict[str, Dict[str, Any]] = {
    'imagenet_mos': dict(
        description='ImageNet-1k val vs the MOS far-OOD four (NegLabel, MCM, GL-MCM, CLIPN, TOE, NPOS)',
        class_names='txtfiles/imagenet_classes.txt',
        id_set=_IMAGENET_VAL,
        ood_sets=MOS_FAR_OOD),
    'openood_v15_imagenet': dict(
        description='OpenOOD v1.5 ImageNet-1k: near = SSB-hard, NINCO; far = iNaturalist, Textures, OpenImage-O '
        "(OpenOOD's image lists)",
        class_names='txtfiles/imagenet_classes.txt',
        id_set=dict(name='ImageNet', ann_file=_OPENOOD_LIST + 'test_imagenet.txt', data_prefix=_OPENOOD_IMAGES),
        ood_sets=[_openood('SSB-hard', 'test_ssb_hard.txt', 'near'), _openood('NINCO', 'test_ninco.txt', 'near'),
                  _openood('iNaturalist-v1.5', 'test_inaturalist.txt', 'far'),
                  _openood('Textures-v1.5', 'test_textures.txt', 'far'),
                  _openood('OpenImage-O', 'test_openimage_o.txt', 'far')]),
    'plp_imagenet': dict(
        description="PLP's ImageNet-1k list: the MOS four, NINCO (OOD classes) and ImageNet-O; near/far of the "
        'last two follow OpenOOD v1.5 (PLP itself does not group them)',
        class_names='txtfiles/imagenet_plp_first_synonym.txt',
        id_set=_IMAGENET_VAL,
        ood_sets=MOS_FAR_OOD + [dict(name='NINCO', data_root='ood_data/NINCO/NINCO_OOD_classes', group='near'),
                                dict(name='ImageNet-O', data_root='ood_data/imagenet-o', group='near')]),
    'cifar10': dict(
        description="CIFAR-10 test (ID) vs CIFAR-100 test (PLP), mmpretrain's python batches",
        class_names='txtfiles/cifar10_classes.txt',
        id_set=_cifar('CIFAR10'),
        ood_sets=[_cifar('CIFAR100', 'near')]),
    'cifar100': dict(
        description="CIFAR-100 test (ID) vs CIFAR-10 test (PLP), mmpretrain's python batches",
        class_names='txtfiles/cifar100_classes.txt',
        id_set=_cifar('CIFAR100'),
        ood_sets=[_cifar('CIFAR10', 'near')]),
    'imagenet10': dict(
        description='ImageNet-10 val (MCM) vs ImageNet-20 val (near)',
        class_names='txtfiles/imagenet10_classes.txt',
        id_set=_subset(10, 'val'),
        ood_sets=[_subset(20, 'val', 'near')]),
    'imagenet20': dict(
        description='ImageNet-20 val vs ImageNet-10 val (near; TOE). MCM used ImageNet-10 *train* as OOD '
        '(MCM-5): benchmark imagenet20_mcm',
        class_names='txtfiles/imagenet20_classes.txt',
        id_set=_subset(20, 'val'),
        ood_sets=[_subset(10, 'val', 'near')]),
    'imagenet20_mcm': dict(
        description="ImageNet-20 val vs ImageNet-10 train (near): MCM's pairing, named explicitly (MCM-5)",
        class_names='txtfiles/imagenet20_classes.txt',
        id_set=_subset(20, 'val'),
        ood_sets=[_subset(10, 'train', 'near')]),
    'imagenet100': dict(
        description='ImageNet-100 val (MCM, NPOS) vs the MOS far-OOD four',
        class_names='txtfiles/imagenet100_classes.txt',
        id_set=_subset(100, 'val'),
        ood_sets=MOS_FAR_OOD),
    # NPOS's own 100 classes (not MCM's), labels in its order: the 5,000 val images of its wnids, listed (with
    # those labels) from imagenet/meta/val.txt once -- configs/npos/npos_vitb16_in100.py shows how
    'npos_imagenet100': dict(
        description="ImageNet-100 val with NPOS's classes and label order (its list file: see "
        'configs/npos/npos_vitb16_in100.py) vs the MOS far-OOD four',
        class_names='txtfiles/npos_imagenet100_classes.txt',
        id_set=dict(name='ImageNet-100', ann_file='imagenet/meta/npos_imagenet100_val.txt', data_prefix='imagenet/val'),
        ood_sets=MOS_FAR_OOD),
}

#: NegRefine's ImageNet-1k list (ah-ansari/NegRefine src/eval.py): ImageNet val (50,000, as its torchvision
#: ``ImageNet(split='val')``) vs the OpenOOD v1.5 sets plus NINCO's "Clean" set (its popular-dataset subsamples, 2,715
#: images, group far).
BENCHMARKS['imagenet_negrefine'] = dict(
    description='ImageNet-1k val vs the OpenOOD v1.5 ImageNet-1k OOD sets plus NINCO\'s popular-dataset subsamples '
    '("Clean", far; NegRefine)',
    class_names='txtfiles/imagenet_classes.txt',
    id_set=_IMAGENET_VAL,
    ood_sets=BENCHMARKS['openood_v15_imagenet']['ood_sets'] + [
        dict(name='Clean', data_root='ood_data/NINCO/NINCO_popular_datasets_subsamples', group='far')])

_PATH_KEYS = ('data_root', 'ann_file', 'data_prefix')


def _rooted(spec: dict, root: str) -> dict:
    spec = copy.deepcopy(spec)
    for key in _PATH_KEYS:
        if spec.get(key):
            spec[key] = osp.join(root, spec[key])
    if spec.get('dataset') is not None and spec['dataset'].get('data_root'):
        spec['dataset']['data_root'] = osp.join(root, spec['dataset']['data_root'])
    return spec


def list_benchmarks() -> List[str]:
    return sorted(BENCHMARKS)


def benchmark_sets(name: str, root: str = 'data') -> Dict[str, Any]:
    """The sets of benchmark ``name`` with paths under ``root``: ``id_set``, ``ood_sets``, ``class_names``,
    ``description``.

    Raises:
        ValueError: unknown benchmark (the message lists the known ones).
    """
    if name not in BENCHMARKS:
        raise ConfigError(f'Unknown benchmark {name!r}; known: {list_benchmarks()}')
    entry = BENCHMARKS[name]
    return dict(description=entry['description'], class_names=entry['class_names'],
                id_set=_rooted(entry['id_set'], root), ood_sets=[_rooted(s, root) for s in entry['ood_sets']])
