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
    rot = str(tmp_path / 'rot.jpg')
    rotated.save(rot, exif=exif)
    out = LoadEncodedImage().transform(dict(img_path=rot))  # EXIF orientation ignored, as convert('RGB') and nvJPEG
    assert out['img'].ndim == 1 and out['ori_shape'] == (60, 80)
    out = LoadEncodedImage(exif_orientation=True).transform(dict(img_path=rot))
    assert out['img'].shape == (80, 60, 3) and out['ori_shape'] == (80, 60)  # decoded here, orientation applied
    assert np.array_equal(out['img'], decode_image(rot, exif_orientation=True))
    la = str(tmp_path / 'la.png')
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 2), dtype=np.uint8), mode='LA').save(la)
    for options in ({}, dict(alpha='composite'), dict(bit_depth='scale', alpha='mmcv')):
        out = LoadEncodedImage(**options).transform(dict(img_path=la))
        assert np.array_equal(out['img'], decode_image(la, **options)), options
    assert not np.array_equal(decode_image(la), decode_image(la, alpha='composite'))


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


def _encoded_item(path, **options):
    from mmood.datasets.transforms import FastPackInputs
    return FastPackInputs(meta_keys=('img_path', ))(LoadEncodedImage(**options)(dict(img_path=path)))


def test_a_batch_of_one_jpeg_and_other_stacked_batches(tmp_path):
    """stack_collate stacks a batch whose items have one shape: one JPEG (a (1, N) tensor), JPEGs of one byte
    length, decoded images of one size. Each gives the batch that the same items give as a list (pseudo_collate):
    (B, 3, crop, crop), image by image the same values; a mixed batch too."""
    _images(tmp_path)
    gpu = GPUDecodeDataPreprocessor(scale=24, crop_size=24, decoder='pil', mean=CLIP_MEAN, std=CLIP_STD, to_rgb=True)
    jpg, png = str(tmp_path / 'id/a/0.jpg'), str(tmp_path / 'id/a/gray.png')
    same_length = str(tmp_path / 'copy.jpg')
    data = bytearray(open(jpg, 'rb').read())
    data[-3] ^= 1  # another image of the same byte length (one DCT bit flipped near the end)
    open(same_length, 'wb').write(bytes(data))
    one = [_encoded_item(jpg)]
    batches = {'one jpeg': one, 'jpegs of one length': one + [_encoded_item(same_length)],
               'decoded of one size': [_encoded_item(png), _encoded_item(png)],
               'mixed': [_encoded_item(jpg), _encoded_item(png), _encoded_item(str(tmp_path / 'id/a/1.jpg'))]}
    for name, items in batches.items():
        stacked = stack_collate(items)
        assert isinstance(stacked['inputs'], torch.Tensor) == (name != 'mixed'), name
        got, want = gpu(stacked, False)['inputs'], gpu(pseudo_collate(items), False)['inputs']
        assert got.shape == (len(items), 3, 24, 24) and torch.equal(got, want), name
        for i, item in enumerate(items):  # each image as if it were alone in its batch
            assert torch.equal(got[i], gpu(pseudo_collate([item]), False)['inputs'][0]), (name, i)
    assert stack_collate(one)['inputs'].shape[0] == 1 and stack_collate(one)['inputs'].ndim == 2
    # the JPEG's pixels: PIL's decoding + the same resize as the decoded PNG's path
    rgb = torch.from_numpy(np.asarray(Image.open(jpg).convert('RGB')).copy()).permute(2, 0, 1)
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    want = (resize_crop_tensor(rgb, 24, crop_size=24).float() - mean) / std
    assert torch.allclose(gpu(stack_collate(one), False)['inputs'][0], want)
    with pytest.raises(ValueError, match='stacked batch'):
        gpu(dict(inputs=torch.zeros(2, 3, 5, dtype=torch.uint8)), False)


def test_the_base_config_as_its_comment_uses_it(tmp_path):
    """configs/_base_/gpu_decode.py as its comment says: the comment's config lines, written next to a copy of
    configs/, load (no duplicate key among the bases) and give the GPU pipeline and preprocessor on top of the
    method's config; the preprocessor builds (with the CPU stand-in decoder)."""
    import os.path as osp
    import shutil

    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    shutil.copytree(osp.join(repo, 'configs'), str(tmp_path / 'configs'))
    comment = [line[1:].strip() for line in open(osp.join(repo, 'configs', '_base_', 'gpu_decode.py'))
               if line.startswith('#')]
    start = next(i for i, line in enumerate(comment) if line.startswith('_base_ = '))
    snippet = '\n'.join(comment[start:start + 3]) + '\n'
    assert snippet.startswith("_base_ = ['./mcm_vitb16.py', '../_base_/gpu_decode.py']"), snippet
    (tmp_path / 'configs' / 'mcm' / 'mcm_vitb16_gpu_decode.py').write_text(snippet)
    cfg = Config.fromfile(str(tmp_path / 'configs' / 'mcm' / 'mcm_vitb16_gpu_decode.py'))
    method = Config.fromfile(osp.join(repo, 'configs', 'mcm', 'mcm_vitb16.py'))
    assert [step['type'] for step in cfg.test_dataloader.dataset.pipeline] == ['LoadEncodedImage', 'PackInputs']
    assert cfg.test_dataloader.dataset.pipeline[-1] == method.test_dataloader.dataset.pipeline[-1]
    for key, value in method.test_dataloader.dataset.items():  # the rest of the method's dataset is kept
        if key != 'pipeline':
            assert cfg.test_dataloader.dataset[key] == value, key
    assert cfg.model.head == method.model.head and cfg.model.backbone == method.model.backbone
    preprocessor = cfg.model.data_preprocessor.to_dict()
    assert preprocessor['type'] == 'GPUDecodeDataPreprocessor' and '_delete_' not in preprocessor
    # the geometry of the exact pipeline it replaces
    resize, crop = method.test_dataloader.dataset.pipeline[1:3]
    assert (preprocessor['scale'], preprocessor['edge'], preprocessor['interpolation'], preprocessor['crop_size']) == \
        (resize['scale'], resize['edge'], resize['interpolation'], crop['crop_size'])
    built = MODELS.build(dict(preprocessor, decoder='pil'))
    assert torch.allclose(built.mean.flatten(), torch.tensor(CLIP_MEAN)) and built.to_rgb
