"""GPU JPEG decoding: an option that says why it cannot run here, the loading step that keeps plain JPEGs encoded,
and the batched preprocessor's geometry (run on the CPU with a PIL decoder standing in for nvJPEG): the exact
pipeline's sizes and box, pixels within a few levels. Its real decoding runs only with CUDA and torchvision.io."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from mmood.datasets import LoadEncodedImage, OODEvalDataset, decode_image, stack_collate
from mmood.models.classifiers import CLIP_MEAN, CLIP_STD, GPUDecodeDataPreprocessor, jpeg_decoder
from mmood.models.classifiers.clip_ood import build_data_preprocessor, clip_data_preprocessor
from mmood.utils import resize_crop_tensor

EXACT = [dict(type='LoadOODImage', imdecode_backend='pillow'),
         dict(type='ResizeEdge', scale=24, edge='short', backend='pillow', interpolation='bilinear'),
         dict(type='CenterCrop', crop_size=24),
         dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))]
ENCODED = [dict(type='LoadEncodedImage'), EXACT[-1]]


def _images(root):
    rng = np.random.default_rng(5)
    for sub in ('id/a', 'id/b', 'ood'):
        (root / sub).mkdir(parents=True)
        for n, (h, w) in enumerate([(60, 80), (97, 41), (50, 50)]):
            smooth = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
            smooth.save(str(root / sub / f'{n}.jpg'), quality=92)
        Image.fromarray(rng.integers(0, 256, (33, 45), dtype=np.uint8)).save(str(root / sub / 'gray.png'))


def _dataset(root, pipeline):
    return OODEvalDataset(id_set=dict(name='ID', data_root=str(root / 'id')),
                          ood_sets=[dict(name='OOD', data_root=str(root / 'ood'))], class_names=['a', 'b'],
                          pipeline=pipeline)


def test_the_option_says_why_it_cannot_run_here():
    try:
        jpeg_decoder('cuda')
    except RuntimeError as err:
        assert 'torchvision' in str(err) or 'CUDA' in str(err)
    else:
        pytest.skip('torchvision.io and CUDA are available: the GPU path itself can run here')
    with pytest.raises(RuntimeError, match='CPU decoding'):
        GPUDecodeDataPreprocessor(scale=24, mean=CLIP_MEAN, std=CLIP_STD, to_rgb=True)


def test_loading_keeps_plain_jpegs_encoded(tmp_path):
    _images(tmp_path)
    jpg, png = str(tmp_path / 'id/a/0.jpg'), str(tmp_path / 'id/a/gray.png')
    out = LoadEncodedImage().transform(dict(img_path=jpg))
    assert out['img'].ndim == 1 and out['img'].tobytes() == open(jpg, 'rb').read() and out['ori_shape'] == (60, 80)
    out = LoadEncodedImage().transform(dict(img_path=png))
    assert np.array_equal(out['img'], decode_image(png)) and out['ori_shape'] == (33, 45)
    rotated = Image.open(jpg)
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(str(tmp_path / 'rot.jpg'), exif=exif)
    out = LoadEncodedImage().transform(dict(img_path=str(tmp_path / 'rot.jpg')))
    assert out['img'].shape == (80, 60, 3) and out['ori_shape'] == (80, 60)  # decoded here, orientation applied


def test_gpu_geometry_matches_the_exact_pipeline(tmp_path):
    """The preprocessor's batches have the exact pipeline's shape, normalisation and channel order, pixels within
    a few levels (torch's antialiased bilinear vs PIL's)."""
    _images(tmp_path)
    exact_ds, encoded_ds = _dataset(tmp_path, EXACT), _dataset(tmp_path, ENCODED)
    exact = build_data_preprocessor(clip_data_preprocessor())(pseudo_collate([exact_ds[i] for i in range(12)]))
    gpu = GPUDecodeDataPreprocessor(scale=24, crop_size=24, decoder='pil', mean=CLIP_MEAN, std=CLIP_STD,
                                    to_rgb=True)
    batch = stack_collate([encoded_ds[i] for i in range(12)])
    assert isinstance(batch['inputs'], list) and sum(x.ndim == 1 for x in batch['inputs']) == 9
    fast = gpu(batch, False)
    assert fast['inputs'].shape == exact['inputs'].shape == (12, 3, 24, 24)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    levels = ((fast['inputs'] - exact['inputs']) * std).abs()  # back to 0-255 pixel levels
    assert levels.mean() < 1.0 and levels.max() < 12, (levels.mean(), levels.max())
    for a, b in zip(fast['data_samples'], exact['data_samples']):
        assert a.img_path == b.img_path and torch.equal(a.gt_label, b.gt_label)


def test_resize_crop_tensor_has_the_pipelines_sizes():
    img = torch.randint(0, 256, (3, 37, 53), dtype=torch.uint8)
    assert resize_crop_tensor(img, 24).shape == (3, 24, 34)
    assert resize_crop_tensor(img, 24, crop_size=24).shape == (3, 24, 24)
    assert resize_crop_tensor(img, 31, edge='long', interpolation='bicubic').shape == (3, 21, 31)
    assert resize_crop_tensor(img, 19, crop_size=(40, 10)).shape == (3, 10, 27)  # clipped to the image, as mmcv
    flat = torch.full((3, 30, 40), 77, dtype=torch.uint8)
    assert torch.equal(resize_crop_tensor(flat, 12, crop_size=12), torch.full((3, 12, 12), 77, dtype=torch.uint8))
    with pytest.raises(ValueError, match='interpolation'):
        resize_crop_tensor(img, 24, interpolation='lanczos')


def test_copies_to_the_gpu_are_non_blocking_with_cuda(monkeypatch):
    assert build_data_preprocessor(clip_data_preprocessor())._non_blocking is torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert build_data_preprocessor(clip_data_preprocessor())._non_blocking is True


def test_an_unreadable_image_gets_the_decoded_stand_in(tmp_path):
    """skip_unreadable with GPU decoding: the stand-in is a decoded black image the preprocessor resizes and crops."""
    _images(tmp_path)
    with open(str(tmp_path / 'ood' / 'broken.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    dataset = OODEvalDataset(id_set=dict(name='ID', data_root=str(tmp_path / 'id')),
                             ood_sets=[dict(name='OOD', data_root=str(tmp_path / 'ood'))], class_names=['a', 'b'],
                             pipeline=ENCODED, skip_unreadable=True)
    items = [dataset[i] for i in range(len(dataset))]
    stand_ins = [d for d in items if 'unreadable' in d['data_samples']]
    assert len(stand_ins) == 1 and stand_ins[0]['inputs'].shape == (3, 256, 256)
    gpu = GPUDecodeDataPreprocessor(scale=24, crop_size=24, decoder='pil', mean=CLIP_MEAN, std=CLIP_STD, to_rgb=True)
    assert gpu(stack_collate(items), False)['inputs'].shape == (len(items), 3, 24, 24)
