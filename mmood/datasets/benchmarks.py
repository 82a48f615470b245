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

__all__ = ['BENCHMARKS', 'MOS_FAR_OOD', 'CIFAR_SMALL_OOD', 'CIFAR_SMALL_OOD_FIVE', 'benchmark_sets', 'list_benchmarks']

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

#: The small-image OOD sets of CIDER / NPOS from scratch / KNN-OOD (docs/data.md "Small-image OOD sets"): SVHN (the
#: first 1,000 test images of each digit, 10,000), LSUN-C, LSUN-R, iSUN, Textures (DTD, 5,640) and Places365 (a seeded
#: 10,000 of ``test_256``: mmood.datasets.small_ood); all far, all scored (the reference lists LSUN-R but never scores
#: it; its five-set mean is the paper's comparison). Folders are scanned recursively, so the archives' inner folders
#: (LSUN/test, LSUN_resize/LSUN_resize, iSUN/iSUN_patches) need no flattening.
CIFAR_SMALL_OOD: List[dict] = [
    dict(name='SVHN', dataset=dict(type='SVHNMatDataset', data_root='small_ood/svhn', selection='cider'),
         group='far'),
    dict(name='LSUN-C', data_root='small_ood/LSUN', group='far'),
    dict(name='LSUN-R', data_root='small_ood/LSUN_resize', group='far'),
    dict(name='iSUN', data_root='small_ood/iSUN', group='far'),
    dict(name='Textures', data_root='small_ood/dtd/images', group='far'),
    dict(name='Places365', dataset=dict(type='SeededSubsetFolder', data_root='small_ood/places365/test_256',
                                        num=10000, seed=0), group='far'),
]
#: the five sets the reference's test script averages (LSUN-R left out)
CIFAR_SMALL_OOD_FIVE = ('SVHN', 'LSUN-C', 'iSUN', 'Textures', 'Places365')
for _id in ('CIFAR10', 'CIFAR100'):
    _lower = _id.lower()
    BENCHMARKS[f'{_lower}_small_ood'] = dict(
        description=f'{_id.replace("CIFAR", "CIFAR-")} test vs SVHN (CIDER selection), LSUN-C, LSUN-R, iSUN, Textures, '
        'Places365 (seeded 10,000): NPOS from scratch, CIDER, KNN-OOD',
        class_names=f'txtfiles/{_lower}_classes.txt',
        id_set=_cifar(_id),
        ood_sets=CIFAR_SMALL_OOD)


def _openood_cifar(ident: str, name: str, file: str, group: str = None) -> dict:
    out = dict(name=name, ann_file=f'openood/benchmark_imglist/{ident}/{file}', data_prefix='openood/images_classic')
    if group:
        out['group'] = group
    return out


#: OpenOOD v1.5's CIFAR benchmarks from its image lists (``benchmark_imglist/cifar10|cifar100``; how to fetch them:
#: docs/data.md "OpenOOD v1.5 CIFAR"): near = the other CIFAR and TinyImageNet (ID-overlapping images removed), far =
#: MNIST, SVHN (all 26,032), Textures, Places365 (val images, filtered per ID set).
for _id, _other in (('cifar10', 'cifar100'), ('cifar100', 'cifar10')):
    BENCHMARKS[f'openood_v15_{_id}'] = dict(
        description=f'OpenOOD v1.5 {_id.upper().replace("CIFAR", "CIFAR-")}: near = '
        f'{_other.upper().replace("CIFAR", "CIFAR-")}, TinyImageNet; far = MNIST, SVHN, Textures, Places365 '
        "(OpenOOD's image lists)",
        class_names=f'txtfiles/{_id}_classes.txt',
        id_set=_openood_cifar(_id, _id.upper().replace('CIFAR', 'CIFAR-'), f'test_{_id}.txt'),
        ood_sets=[_openood_cifar(_id, _other.upper().replace('CIFAR', 'CIFAR-'), f'test_{_other}.txt', 'near'),
                  _openood_cifar(_id, 'TinyImageNet', 'test_tin.txt', 'near'),
                  _openood_cifar(_id, 'MNIST', 'test_mnist.txt', 'far'),
                  _openood_cifar(_id, 'SVHN', 'test_svhn.txt', 'far'),
                  _openood_cifar(_id, 'Textures', 'test_texture.txt', 'far'),
                  _openood_cifar(_id, 'Places365', 'test_places365.txt', 'far')])

#: ImageNet-1k variants as the ID set against the MOS four (NegLabel, ICLR 2024, its domain-shift experiment):
#: ImageNet-V2 (matched frequency; class folders 0..999 = class index), ImageNet-Sketch (1,000 wnid folders),
#: ImageNet-A and ImageNet-R (200 wnid folders each; labels and names of their 200-class subsets, in wnid order).
_INTEGER_FOLDERS = [str(i) for i in range(1000)]
for _key, _name, _root, _classes, _order in (
        ('imagenet_v2', 'ImageNet-V2', 'imagenet_v2/imagenetv2-matched-frequency-format-val', 'imagenet',
         _INTEGER_FOLDERS),
        ('imagenet_sketch', 'ImageNet-Sketch', 'imagenet_sketch/sketch', 'imagenet', 'txtfiles/imagenet_wnids.txt'),
        ('imagenet_a', 'ImageNet-A', 'imagenet-a', 'imagenet_a', 'txtfiles/imagenet_a_wnids.txt'),
        ('imagenet_r', 'ImageNet-R', 'imagenet-r', 'imagenet_r', 'txtfiles/imagenet_r_wnids.txt')):
    BENCHMARKS[f'{_key}_mos'] = dict(
        description=f'{_name} ({"1,000" if _classes == "imagenet" else "200"} classes) vs the MOS far-OOD four '
        '(NegLabel: robustness to domain shift)',
        class_names=f'txtfiles/{_classes}_classes.txt',
        id_set=dict(name=_name, data_root=_root, folder_order=_order),
        ood_sets=MOS_FAR_OOD)

#: MCM's fine-grained ID sets (test splits, read by mmpretrain's dataset classes; class names in
#: txtfiles/*_classes.txt, MCM's naming: txtfiles/README.md) against the MOS four.
for _key, _name, _type, _root in (('cub200', 'CUB-200', 'CUB', 'CUB_200_2011'),
                                  ('stanford_cars', 'Stanford-Cars', 'StanfordCars', 'stanford_cars'),
                                  ('food101', 'Food-101', 'Food101', 'food-101'),
                                  ('oxford_pets', 'Oxford-Pets', 'OxfordIIITPet', 'oxford-iiit-pet')):
    BENCHMARKS[f'{_key}_mos'] = dict(
        description=f'{_name} test (MCM\'s fine-grained ID sets) vs the MOS far-OOD four',
        class_names=f'txtfiles/{_key}_classes.txt',
        id_set=dict(name=_name, dataset=dict(type=_type, data_root=_root, split='test')),
        ood_sets=MOS_FAR_OOD)

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
