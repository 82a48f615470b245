"""Digits datasets: deterministic stratified split, captions, the in-memory ID/OOD benchmark."""
import re

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, TRANSFORMS

from mmood.datasets.digits import (CAPTION_TEMPLATES, DIGIT_WORDS, digit_captions, digits_split, noise_pixels,
                                   to_image)

init_default_scope('mmpretrain')
EVAL_META = ('sample_idx', 'img_path', 'set_id', 'is_ood')


def _targets():
    from sklearn.datasets import load_digits
    return load_digits().target


def test_split_deterministic_disjoint_stratified():
    train, test = digits_split('train'), digits_split('test')
    assert np.array_equal(train, digits_split('train', split_seed=0))
    assert np.array_equal(test, digits_split('test', split_seed=0))
    assert not set(train) & set(test)
    assert len(train) + len(test) == 1797 and len(set(train) | set(test)) == 1797
    targets = _targets()
    for d in range(10):  # every digit keeps ~30 % in test
        n_d = np.sum(targets == d)
        assert abs(np.sum(targets[test] == d) - 0.3 * n_d) <= 1
    other = digits_split('test', split_seed=1)
    assert not np.array_equal(test, other) and len(other) == len(test)
    with pytest.raises(ValueError):
        digits_split('val')


def test_to_image_and_noise():
    pixels = np.zeros((8, 8), np.float32)
    pixels[2:5, 3:6] = 16
    img = to_image(pixels, 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert img.max() == 255 and img.min() == 0
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    assert np.array_equal(noise_pixels(4, seed=3), noise_pixels(4, seed=3))
    assert not np.array_equal(noise_pixels(4, seed=3), noise_pixels(4, seed=4))
    assert noise_pixels(4).min() >= 0 and noise_pixels(4).max() <= 16


def test_caption_dataset_labels_and_captions():
    ds = DATASETS.build(dict(type='DigitsCaptionDataset', digits=(3, 0, 7), split='train'))
    assert ds.metainfo['classes'] == ('three', 'zero', 'seven')
    targets = _targets()
    train = set(digits_split('train').tolist())
    expected_n = sum(int(targets[i] in (3, 0, 7)) for i in train)
    assert len(ds) == expected_n
    for i in range(0, len(ds), 7):
        info = ds.get_data_info(i)
        index = int(re.fullmatch(r'digits/train/(\d+)\.png', info['img_path']).group(1))
        assert index in train
        digit = int(targets[index])
        assert info['digit'] == digit and (3, 0, 7)[info['gt_label']] == digit
        assert info['img'].shape == (32, 32, 3) and info['img'].dtype == np.uint8
        assert len(info['captions']) == len(CAPTION_TEMPLATES)
        for caption in info['captions']:  # each caption names its own digit, by word or numeral
            assert DIGIT_WORDS[digit] in caption.split() or str(digit) in caption.split()
            others = [w for d, w in enumerate(DIGIT_WORDS) if d != digit] + [str(d) for d in range(10) if d != digit]
            assert not set(caption.split()) & set(others)
    assert digit_captions(3)[0] == 'a photo of the digit three'


def test_caption_pipeline_packs_text():
    pipeline = [dict(type='RandomCaption'), dict(type='PackInputs', algorithm_keys=('text', ))]
    ds = DATASETS.build(dict(type='DigitsCaptionDataset', split='test', pipeline=pipeline))
    texts = set()
    for epoch in range(30):
        ds.set_epoch(epoch)
        out = ds[5]
        assert out['inputs'].shape == (3, 32, 32)
        texts.add(out['data_samples'].text)
    assert texts <= set(ds.get_data_info(5)['captions']) and len(texts) > 3
    # a function of (seed, sample, epoch): another copy (another process, a resumed run) draws the same
    other = DATASETS.build(dict(type='DigitsCaptionDataset', split='test', pipeline=pipeline))
    for epoch in (0, 7):
        ds.set_epoch(epoch)
        other.set_epoch(epoch)
        np.random.seed(epoch)  # numpy's global RNG plays no part
        first = [ds[i]['data_samples'].text for i in range(10)]
        assert [other[i]['data_samples'].text for i in reversed(range(10))][::-1] == first
        assert [ds[i]['data_samples'].text for i in range(10)] == first
    transform = TRANSFORMS.build(dict(type='RandomCaption'))
    draws = [transform(dict(captions=list('abcdefgh'), sample_idx=3))['text'] for _ in range(8)]
    assert len(set(draws)) > 2  # without an epoch, each draw of a sample counts as the next epoch
    with pytest.raises(ValueError, match='no caption'):
        transform(dict(captions=[]))


def test_ood_dataset_metainfo_and_labels():
    pipeline = [dict(type='PackInputs', meta_keys=EVAL_META)]
    ds = DATASETS.build(dict(type='DigitsOODDataset', num_noise=25, pipeline=pipeline))
    assert ds.metainfo['classes'] == ('zero', 'one', 'two', 'three', 'four')
    assert ds.metainfo['set_names'] == ('digits 0-4', 'digits 5-9', 'noise')
    assert ds.metainfo['set_groups'] == ('id', 'near', 'far')
    targets = _targets()
    test = set(digits_split('test').tolist())
    counts = ds.set_counts()
    assert counts['digits 0-4'] == sum(int(targets[i] < 5) for i in test)
    assert counts['digits 5-9'] == sum(int(targets[i] >= 5) for i in test)
    assert counts['noise'] == 25
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['sample_idx'] == i and info['is_ood'] == int(info['set_id'] > 0)
        if info['set_id'] == 2:
            assert info['img_path'].startswith('noise/') and info['gt_label'] == -1
            continue
        index = int(re.fullmatch(r'digits/test/(\d+)\.png', info['img_path']).group(1))
        assert index in test  # never a training image
        digit = int(targets[index])
        assert info['gt_label'] == (digit if info['set_id'] == 0 else -1)
        assert info['set_id'] == (0 if digit < 5 else 1)
    packed = ds[0]
    assert packed['inputs'].shape == (3, 32, 32)
    assert set(EVAL_META) <= set(packed['data_samples'].metainfo_keys())


def test_ood_dataset_options():
    ds = DATASETS.build(dict(type='DigitsOODDataset', id_digits=(7, 2), ood_digits=(1, ), num_noise=0,
                             max_per_set=4))
    assert ds.metainfo['set_names'] == ('digits 0-4', 'digits 5-9')  # names are options, sets follow digits
    assert ds.metainfo['classes'] == ('seven', 'two') and len(ds) == 8
    targets = _targets()
    for i in range(4):
        info = ds.get_data_info(i)
        index = int(info['img_path'].split('/')[-1][:-4])
        assert (7, 2)[info['gt_label']] == targets[index]
    with pytest.raises(ValueError, match='overlap'):
        DATASETS.build(dict(type='DigitsOODDataset', id_digits=(1, 2), ood_digits=(2, 3)))
    with pytest.raises(ValueError, match='class names'):
        DATASETS.build(dict(type='DigitsOODDataset', class_names=['a', 'b']))
