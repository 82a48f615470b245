"""The CIFAR benchmarks of NPOS from scratch on generated trees: tools/verify_data.py --benchmark checks OpenOOD v1.5's
CIFAR image lists (CRLF lines, MNIST grey images) and the small-image OOD sets (SVHN's .mat with CIDER's 1,000-per-
digit rule, LSUN-C, LSUN-R, iSUN, Textures, Places365's seeded subset) at their documented paths (docs/data.md)."""
import io
import os
import os.path as osp

import numpy as np
from conftest import load_tool
from PIL import Image

from mmood.apis.verify import verify
from mmood.datasets import benchmark_sets


def image(path, size=36, grey=False, seed=0):
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size, size) if grey else (size, size, 3)
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(path)


def test_openood_v15_cifar_lists(tmp_path):
    root = str(tmp_path)
    lists = osp.join(root, 'openood', 'benchmark_imglist', 'cifar10')
    os.makedirs(lists)
    files = {'test_cifar10': ['cifar10/test/airplane/0001.png 0', 'cifar10/test/cat/0002.png 3'],
             'test_cifar100': ['cifar100/test/apple/0001.png -1'], 'test_tin': ['tin/val/images/val_1.JPEG -1'],
             'test_mnist': ['mnist/test/7_00001.jpg -1'], 'test_svhn': ['svhn/test/000001_5.jpg -1'],
             'test_texture': ['texture/banded/banded_0001.jpg -1'],
             'test_places365': ['places365/airfield/Places365_val_00000001.jpg -1']}
    for name, lines in files.items():
        with open(osp.join(lists, name + '.txt'), 'w', newline='') as f:
            f.write(''.join(line + '\r\n' for line in lines))  # OpenOOD's lists may end lines in CRLF
        for i, line in enumerate(lines):
            rel = line.split(' ')[0]
            image(osp.join(root, 'openood', 'images_classic', rel), size=28 if 'mnist' in rel else 32,
                  grey='mnist' in rel, seed=i)
    out = io.StringIO()
    from contextlib import redirect_stdout
    with redirect_stdout(out):
        status = load_tool('verify_data').main(['--benchmark', 'openood_v15_cifar10', '--root', root])
    assert status == 0, out.getvalue()
    assert 'all data present' in out.getvalue()


def test_small_ood_sets(tmp_path):
    from scipy.io import savemat
    root = str(tmp_path)
    small = osp.join(root, 'small_ood')
    labels = np.array([1] * 3 + [10] * 2)
    os.makedirs(osp.join(small, 'svhn'))
    mat = dict(X=np.zeros((32, 32, 3, 5), np.uint8), y=labels.reshape(-1, 1))
    savemat(osp.join(small, 'svhn', 'test_32x32.mat'), mat)
    for i in range(3):
        image(osp.join(small, 'LSUN', 'test', f'{i}.jpg'), size=36, seed=i)
        image(osp.join(small, 'LSUN_resize', 'LSUN_resize', f'{i}.jpg'), size=32, seed=i)
        image(osp.join(small, 'iSUN', 'iSUN_patches', f'{i}.jpeg'), size=40, seed=i)
        image(osp.join(small, 'dtd', 'images', 'banded', f'banded_{i}.jpg'), size=64, seed=i)
        image(osp.join(small, 'places365', 'test_256', f'Places365_test_{i:08d}.jpg'), size=64, seed=i)
    image(osp.join(root, 'id', 'airplane', '0.png'), size=32)
    cfg = dict(type='OODEvalDataset', benchmark='cifar10_small_ood', benchmark_root=root,
               id_set=dict(name='CIFAR-10', data_root=osp.join(root, 'id')), class_names=['airplane'])
    out = io.StringIO()
    assert verify(cfg, out=out), out.getvalue()
    counts = {line.split()[0]: int(line.split()[2]) for line in out.getvalue().splitlines()[1:] if line.strip()}
    assert counts == {'CIFAR-10': 1, 'SVHN': 5, 'LSUN-C': 3, 'LSUN-R': 3, 'iSUN': 3, 'Textures': 3, 'Places365': 3}
    # the rule keeps the first 1,000 per digit: all 5 here; the table's other paths
    assert [s['name'] for s in benchmark_sets('cifar100_small_ood', root)['ood_sets']][0] == 'SVHN'
