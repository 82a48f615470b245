"""The benchmarks with other ID sets, on generated trees at their documented paths (docs/data.md): NegLabel's
ImageNet variants (ImageNet-V2's integer class folders in class order, ImageNet-Sketch, the 200-class ImageNet-A
and ImageNet-R with their subsets' names), MCM's fine-grained test splits (CUB-200, Stanford Cars, Food-101,
Oxford-IIIT Pet, read by mmpretrain's dataset classes) against the MOS four, and the configs of NegLabel and MCM on
them; tools/verify_data.py --benchmark reports every missing path."""
import io
import os
import os.path as osp
from contextlib import redirect_stdout

import numpy as np
import pytest
from conftest import REPO, config_path, load_tool
from mmengine.config import Config
from PIL import Image

from mmood.datasets import BENCHMARKS, benchmark_sets
from mmood.datasets.set_spec import read_set, resolve_sets
from mmood.text import load_class_names

MOS = ('iNaturalist', 'SUN', 'Places', 'Textures')
VARIANTS = ('imagenet_v2_mos', 'imagenet_sketch_mos', 'imagenet_a_mos', 'imagenet_r_mos')
FINE_GRAINED = ('cub200_mos', 'stanford_cars_mos', 'food101_mos', 'oxford_pets_mos')
CONFIGS = {'inv2': 'imagenet_v2_mos', 'insketch': 'imagenet_sketch_mos', 'ina': 'imagenet_a_mos',
           'inr': 'imagenet_r_mos', 'in10': 'imagenet10', 'in20': 'imagenet20_mcm', 'in100': 'imagenet100',
           'cub200': 'cub200_mos', 'cars': 'stanford_cars_mos', 'food101': 'food101_mos', 'pets': 'oxford_pets_mos'}


def image(path, seed=0):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)


def write(path, lines):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))


def mos_sets(root):
    for i, name in enumerate(MOS):
        image(osp.join(root, 'ood_data', name, 'images', f'{i}.jpg'), seed=i)


def read_id(name, root):
    sets = benchmark_sets(name, root)
    names = load_class_names(sets['class_names'])
    samples, problems = read_set(sets['id_set'], True, len(names), class_names=names)
    assert problems == [], problems
    return sets, names, {osp.relpath(s['img_path'], root): s['gt_label'] for s in samples}


def verify_benchmark(name, root):
    out = io.StringIO()
    with redirect_stdout(out):
        status = load_tool('verify_data').main(['--benchmark', name, '--root', root, '--no-decode', '--workers', '1'])
    return status, out.getvalue()


def test_class_lists_and_wnids():
    wnids = load_class_names('txtfiles/imagenet_wnids.txt')
    clip = load_class_names('txtfiles/imagenet_classes.txt')
    for subset, first, last in (('a', ('n01498041', 'stingray'), ('n12267677', 'acorn')),
                                ('r', ('n01443537', 'goldfish'), ('n12267677', 'acorn'))):
        ids, names = (load_class_names(f'txtfiles/imagenet_{subset}_{k}.txt') for k in ('wnids', 'classes'))
        assert len(ids) == len(set(ids)) == len(names) == 200 and ids == sorted(ids)
        assert names == [clip[wnids.index(w)] for w in ids]
        assert (ids[0], names[0]) == first and (ids[-1], names[-1]) == last
    assert len(set(load_class_names('txtfiles/imagenet_a_wnids.txt')) &
               set(load_class_names('txtfiles/imagenet_r_wnids.txt'))) == 86
    expected = {'cub200': (200, 'Black footed Albatross', 'Common Yellowthroat'),
                'stanford_cars': (196, 'AM General Hummer SUV 2000', 'smart fortwo Convertible 2012'),
                'food101': (101, 'Apple pie', 'Waffles'), 'oxford_pets': (37, 'Abyssinian', 'Yorkshire Terrier')}
    for key, (count, first, last) in expected.items():
        names = load_class_names(f'txtfiles/{key}_classes.txt')
        assert (len(names), names[0], names[-1]) == (count, first, last) and len(set(names)) == count
    assert load_class_names('txtfiles/oxford_pets_classes.txt')[1] == 'American Bulldog'
    assert load_class_names('txtfiles/food101_classes.txt')[1] == 'Baby back ribs'


def test_imagenet_variants(tmp_path):
    root = str(tmp_path)
    mos_sets(root)
    wnids = load_class_names('txtfiles/imagenet_wnids.txt')
    v2 = osp.join(root, 'imagenet_v2', 'imagenetv2-matched-frequency-format-val')
    for i in range(1000):  # ImageNet-V2's folders are the class indices: 10 must not sort before 2
        os.makedirs(osp.join(v2, str(i)))
    for i in (2, 10, 999):
        image(osp.join(v2, str(i), f'{i}.jpeg'), seed=i)
    for w in wnids:
        os.makedirs(osp.join(root, 'imagenet_sketch', 'sketch', w))
    image(osp.join(root, 'imagenet_sketch', 'sketch', wnids[1], 'sketch_0.JPEG'))
    for folder, subset in (('imagenet-a', 'a'), ('imagenet-r', 'r')):
        for w in load_class_names(f'txtfiles/imagenet_{subset}_wnids.txt'):
            os.makedirs(osp.join(root, folder, w))
        write(osp.join(root, folder, 'README.txt'), ['not an image'])
    image(osp.join(root, 'imagenet-a', 'n01498041', 'a.jpg'))
    image(osp.join(root, 'imagenet-a', 'n12267677', 'b.jpg'))
    image(osp.join(root, 'imagenet-r', 'n01443537', 'art_0.jpg'))

    sets, names, labels = read_id('imagenet_v2_mos', root)
    v2rel = 'imagenet_v2/imagenetv2-matched-frequency-format-val'
    assert labels == {f'{v2rel}/2/2.jpeg': 2, f'{v2rel}/10/10.jpeg': 10, f'{v2rel}/999/999.jpeg': 999}
    assert len(names) == 1000 and names[999] == 'toilet paper'
    assert [s['name'] for s in sets['ood_sets']] == list(MOS) and {s['group'] for s in sets['ood_sets']} == {'far'}
    _, names, labels = read_id('imagenet_sketch_mos', root)
    assert labels == {f'imagenet_sketch/sketch/{wnids[1]}/sketch_0.JPEG': 1} and names[1] == 'goldfish'
    _, names, labels = read_id('imagenet_a_mos', root)
    assert labels == {'imagenet-a/n01498041/a.jpg': 0, 'imagenet-a/n12267677/b.jpg': 199} and len(names) == 200
    assert (names[0], names[199]) == ('stingray', 'acorn')
    _, names, labels = read_id('imagenet_r_mos', root)
    assert labels == {'imagenet-r/n01443537/art_0.jpg': 0} and names[0] == 'goldfish' and len(names) == 200
    for name in VARIANTS:
        status, out = verify_benchmark(name, root)
        assert status == 0 and 'all data present' in out, out


def fine_grained_tree(root):
    cub = osp.join(root, 'CUB_200_2011')
    paths = ['001.Black_footed_Albatross/a.jpg', '001.Black_footed_Albatross/b.jpg', '200.Common_Yellowthroat/c.jpg']
    write(osp.join(cub, 'images.txt'), [f'{i + 1} {p}' for i, p in enumerate(paths)])
    write(osp.join(cub, 'image_class_labels.txt'), ['1 1', '2 1', '3 200'])
    write(osp.join(cub, 'train_test_split.txt'), ['1 1', '2 0', '3 0'])  # 1 = train
    for i, p in enumerate(paths):
        image(osp.join(cub, 'images', p), seed=i)
    import mat4py
    cars = osp.join(root, 'stanford_cars')
    os.makedirs(cars)
    mat4py.savemat(osp.join(cars, 'cars_annos.mat'), {'annotations': {
        'relative_im_path': ['car_ims/000001.jpg', 'car_ims/000002.jpg', 'car_ims/000003.jpg'],
        'class': [1, 196, 5], 'test': [1, 1, 0]}})
    for i in range(3):
        image(osp.join(cars, 'car_ims', f'{i + 1:06d}.jpg'), seed=i)
    food = osp.join(root, 'food-101')
    write(osp.join(food, 'meta', 'test.txt'), ['apple_pie/1011328', 'waffles/1008421'])
    image(osp.join(food, 'images', 'apple_pie', '1011328.jpg'))
    image(osp.join(food, 'images', 'waffles', '1008421.jpg'))
    pets = osp.join(root, 'oxford-iiit-pet')
    write(osp.join(pets, 'annotations', 'test.txt'), ['Abyssinian_201 1 1 1', 'yorkshire_terrier_9 37 2 25'])
    image(osp.join(pets, 'images', 'Abyssinian_201.jpg'))
    image(osp.join(pets, 'images', 'yorkshire_terrier_9.jpg'))


def test_fine_grained_sets(tmp_path):
    root = str(tmp_path)
    mos_sets(root)
    fine_grained_tree(root)
    expected = {
        'cub200_mos': ({'CUB_200_2011/images/001.Black_footed_Albatross/b.jpg': 0,
                        'CUB_200_2011/images/200.Common_Yellowthroat/c.jpg': 199}, 200),
        'stanford_cars_mos': ({'stanford_cars/car_ims/000001.jpg': 0, 'stanford_cars/car_ims/000002.jpg': 195}, 196),
        'food101_mos': ({'food-101/images/apple_pie/1011328.jpg': 0, 'food-101/images/waffles/1008421.jpg': 100}, 101),
        'oxford_pets_mos': ({'oxford-iiit-pet/images/Abyssinian_201.jpg': 0,
                             'oxford-iiit-pet/images/yorkshire_terrier_9.jpg': 36}, 37)}
    for name, (labels, count) in expected.items():
        sets, names, found = read_id(name, root)
        assert found == labels and len(names) == count, name
        assert [s['name'] for s in sets['ood_sets']] == list(MOS)
        status, out = verify_benchmark(name, root)
        assert status == 0 and 'all data present' in out, out


def test_missing_data_is_reported(tmp_path):
    root = str(tmp_path)
    status, out = verify_benchmark('imagenet_a_mos', root)
    assert status == 1 and 'data missing' in out
    assert f'set "ImageNet-A": data_root not found: {osp.join(root, "imagenet-a")}' in out
    assert f'set "iNaturalist": data_root not found: {osp.join(root, "ood_data", "iNaturalist")}' in out
    os.makedirs(osp.join(root, 'imagenet-r', 'n01443537'))
    status, out = verify_benchmark('imagenet_r_mos', root)
    assert status == 1 and 'class folder missing: ' + osp.join(root, 'imagenet-r', 'n01484850') in out
    status, out = verify_benchmark('cub200_mos', root)
    assert status == 1 and 'set "CUB-200": cannot build dataset CUB' in out and 'images.txt' in out, out


@pytest.mark.parametrize('method', ['mcm', 'neglabel'])
def test_configs_name_their_benchmark_and_its_class_names(method):
    for suffix, benchmark in CONFIGS.items():
        cfg = Config.fromfile(config_path(f'{method}_vitb16_{suffix}'))
        assert cfg.test_dataloader.dataset.benchmark == benchmark and benchmark in BENCHMARKS
        _, _, class_names = resolve_sets(cfg.test_dataloader.dataset.to_dict())
        assert cfg.model.class_names == class_names  # the model's names are the data's
        base = Config.fromfile(osp.join(REPO, 'configs', method, f'{method}_vitb16.py'))
        assert cfg.model.head == base.model.head and cfg.model.backbone == base.model.backbone
        assert cfg.test_dataloader.dataset.pipeline == base.test_dataloader.dataset.pipeline
