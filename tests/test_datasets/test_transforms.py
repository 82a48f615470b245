"""LoadOODImage: mmcv's pillow pixels bit for bit on ordinary images; 16-bit and other wide images scaled, not
clipped; unreadable images named, or skipped and counted with skip_unreadable=True."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from mmood.datasets import LoadOODImage, unreadable_images


def load(path, cls=LoadOODImage):
    return cls(imdecode_backend='pillow').transform(dict(img_path=path))['img']


def test_same_pixels_as_mmcv_on_ordinary_images(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    files = []
    for name, img in (('rgb.png', Image.fromarray(rgb)), ('rgb.jpg', Image.fromarray(rgb)),
                      ('gray.png', Image.fromarray(rgb[..., 0])),
                      ('palette.png', Image.fromarray(rgb).convert('P')),
                      ('rgba.png', Image.fromarray(np.dstack([rgb, rgb[..., :1]]))),
                      ('la.png', Image.fromarray(np.dstack([rgb[..., 0], rgb[..., 1]]), mode='LA'))):
        path = str(tmp_path / name)
        img.save(path)
        files.append(path)
    rotated = Image.fromarray(rgb)
    exif = rotated.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees
    rotated.save(str(tmp_path / 'exif.jpg'), exif=exif)
    files.append(str(tmp_path / 'exif.jpg'))
    for path in files:
        ours, theirs = load(path), load(path, LoadImageFromFile)
        assert ours.dtype == np.uint8 and ours.shape == theirs.shape and np.array_equal(ours, theirs), path
    assert load(files[-1]).shape[:2] == (17, 13)  # orientation applied, as mmcv does


def test_16_bit_png_decodes_like_its_8_bit_version(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(gray).save(str(tmp_path / 'gray8.png'))
    Image.fromarray(gray.astype(np.uint16) * 257).save(str(tmp_path / 'gray16.png'))  # I;16 PNG
    with Image.open(str(tmp_path / 'gray16.png')) as img:
        assert img.mode in ('I;16', 'I')
    eight, sixteen = load(str(tmp_path / 'gray8.png')), load(str(tmp_path / 'gray16.png'))
    assert np.array_equal(eight, sixteen)
    assert load(str(tmp_path / 'gray16.png'), LoadImageFromFile).mean() > 250  # mmcv's pillow path: almost white
    colour = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'rgb48.png'), colour.astype(np.uint16) * 257)  # 16 bits per channel
    cv2.imwrite(str(tmp_path / 'rgb24.png'), colour)
    assert np.array_equal(load(str(tmp_path / 'rgb48.png')), load(str(tmp_path / 'rgb24.png')))
    floats = Image.fromarray(gray.astype(np.float32) / 255.0, mode='F')
    floats.save(str(tmp_path / 'float.tif'))
    assert np.abs(load(str(tmp_path / 'float.tif')).astype(int) - load(str(tmp_path / 'gray8.png'))).max() <= 1


def test_unreadable_images_are_found_by_decoding(tmp_path):
    good = str(tmp_path / 'good.jpg')
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(good, quality=95)
    truncated = str(tmp_path / 'truncated.jpg')
    with open(good, 'rb') as f, open(truncated, 'wb') as g:
        g.write(f.read()[:400])  # opens fine, fails while decoding
    junk = str(tmp_path / 'junk.png')
    with open(junk, 'wb') as f:
        f.write(b'not a png')
    found = dict(unreadable_images([good, truncated, junk, 'CIFAR10:x#3'], workers=2, progress=False))
    assert set(found) == {truncated, junk} and 'truncated' in found[truncated].lower()
    assert osp.isfile(good)


def _configured(scale, edge, interpolation, **load):
    from mmpretrain.datasets.transforms import ResizeEdge
    return [LoadOODImage(imdecode_backend='pillow', **load),
            ResizeEdge(scale=scale, edge=edge, backend='pillow', interpolation=interpolation)]


def _run(steps, **results):
    for step in steps:
        results = step(results)
    return results


def test_fused_load_and_resize_give_the_configured_pixels(tmp_path):
    """OODEvalDataset runs LoadOODImage + a pillow ResizeEdge as one step (fuse_pipeline): bit-identical arrays
    and result keys for colour, grayscale, palette, RGBA, LA, 16-bit and EXIF-rotated images of odd sizes, from
    files and from bytes; the output is one contiguous BGR array."""
    from mmood.datasets import PillowLoadResizeEdge, fuse_pipeline
    rng = np.random.default_rng(1)
    files = []
    for (h, w), mode in (((37, 53), 'RGB'), ((61, 29), 'L'), ((40, 40), 'P'), ((33, 70), 'RGBA'), ((45, 31), 'LA')):
        base = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        img = {'RGB': lambda: Image.fromarray(base[..., :3]), 'L': lambda: Image.fromarray(base[..., 0]),
               'P': lambda: Image.fromarray(base[..., :3]).convert('P'), 'RGBA': lambda: Image.fromarray(base),
               'LA': lambda: Image.fromarray(base[..., :2], mode='LA')}[mode]()
        for ext in (('png', 'jpg') if mode in ('RGB', 'L') else ('png', )):
            path = str(tmp_path / f'{mode}_{h}x{w}.{ext}')
            img.save(path)
            files.append(path)
    Image.fromarray((rng.integers(0, 65536, (23, 41))).astype(np.uint16)).save(str(tmp_path / 'wide.png'))
    files.append(str(tmp_path / 'wide.png'))
    rotated = Image.fromarray(rng.integers(0, 256, (30, 47, 3), dtype=np.uint8))
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(str(tmp_path / 'exif.jpg'), exif=exif)
    files.append(str(tmp_path / 'exif.jpg'))
    checked = 0
    for scale, edge, interpolation in ((24, 'short', 'bilinear'), (24, 'short', 'bicubic'), (31, 'long', 'bicubic'),
                                       (17, 'width', 'nearest'), (19, 'height', 'bilinear')):
        configured = _configured(scale, edge, interpolation)
        (fused, ) = fuse_pipeline(configured)
        assert isinstance(fused, PillowLoadResizeEdge)
        for path in files:
            want = _run(configured, img_path=path)
            for got in (_run([fused], img_path=path), _run([fused], img_path=path, img_bytes=open(path, 'rb').read())):
                assert got['img'].flags['C_CONTIGUOUS'] and got['img'].dtype == np.uint8
                assert np.array_equal(got['img'], want['img']), (path, scale, edge, interpolation)
                for key in ('img_shape', 'ori_shape', 'scale', 'scale_factor'):
                    assert tuple(got[key]) == tuple(want[key]), (key, path)
                checked += 1
    assert checked == 5 * len(files) * 2
    # with a centre crop after the resize: one step too; crops larger than the image are clipped as mmcv clips them
    from mmcv.transforms import CenterCrop
    for scale, crop in ((24, 24), (24, 17), (24, (20, 13)), (19, 40), (23, (8, 30))):
        configured = _configured(scale, 'short', 'bilinear') + [CenterCrop(crop_size=crop)]
        (fused, ) = fuse_pipeline(configured)
        assert isinstance(fused, PillowLoadResizeEdge) and fused.crop_size is not None
        for path in files:
            want = _run(configured, img_path=path)
            got = _run([fused], img_path=path)
            assert got['img'].flags['C_CONTIGUOUS'] and np.array_equal(got['img'], want['img']), (path, crop)
            for key in ('img_shape', 'ori_shape', 'scale', 'scale_factor', 'pad_shape'):
                assert tuple(got[key]) == tuple(want[key]), (key, path, crop)
    padded = _configured(24, 'short', 'bilinear') + [CenterCrop(crop_size=40, auto_pad=True)]
    assert type(fuse_pipeline(padded)[1]) is CenterCrop  # a padding crop stays a step of its own
    # only pillow colour decoding into a pillow ResizeEdge is fused; draft mode needs that pair
    from mmpretrain.datasets.transforms import ResizeEdge
    cv2_resize = [LoadOODImage(), ResizeEdge(scale=24, backend='cv2')]
    assert fuse_pipeline(cv2_resize) == cv2_resize
    with pytest.raises(ValueError, match='draft'):
        fuse_pipeline([LoadOODImage(draft=True), ResizeEdge(scale=24, backend='cv2')])
    with pytest.raises(ValueError, match='draft'):
        LoadOODImage(draft=True).transform(dict(img_path=files[0]))


def test_draft_decoding_is_close_and_only_an_option(tmp_path):
    """Draft mode decodes a large JPEG at a reduced DCT scale: the same output size, pixels within a few levels."""
    from mmood.datasets import fuse_pipeline
    rng = np.random.default_rng(2)
    smooth = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((800, 600), Image.BICUBIC)
    path = str(tmp_path / 'big.jpg')
    smooth.save(path, quality=90)
    exact = _run(fuse_pipeline(_configured(64, 'short', 'bicubic')), img_path=path)
    (draft, ) = fuse_pipeline(_configured(64, 'short', 'bicubic', draft=True))
    assert draft.draft
    fast = _run([draft], img_path=path)
    assert fast['img'].shape == exact['img'].shape == (64, 85, 3)
    assert tuple(fast['ori_shape']) == tuple(exact['ori_shape']) == (600, 800)
    diff = np.abs(fast['img'].astype(int) - exact['img'].astype(int))
    assert 0 < diff.max() and diff.mean() < 3, (diff.max(), diff.mean())


def test_fast_pack_inputs_packs_what_pack_inputs_packs():
    """FastPackInputs (fuse_pipeline's stand-in for a plain PackInputs): the same input tensor (values, dtype, shape,
    contiguity) and the same data sample field by field, in its fast case and in every case it hands back."""
    import torch
    from mmpretrain.datasets.transforms import PackInputs

    from mmood.datasets import fuse_pipeline
    from mmood.datasets.transforms import FastPackInputs
    rng = np.random.default_rng(2)
    colour = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    cases = [dict(img=colour, gt_label=3, sample_idx=4, img_path='a.jpg', set_id=1, is_ood=1),
             dict(img=np.asarray(colour[:, ::-1]), gt_label=0),  # not contiguous
             dict(img=colour.astype(np.float32)),  # no label
             dict(img=colour[..., 0], gt_label=1),  # grayscale (H, W): PackInputs' path
             dict(img=colour, gt_label=np.int64(2)),  # not an int: PackInputs' path (and its error)
             dict(img=colour, gt_label=[1, 2], gt_score=np.ones(3, dtype=np.float32))]
    meta = ('sample_idx', 'img_path', 'set_id', 'is_ood')
    for case in cases:
        want, got = PackInputs(meta_keys=meta), FastPackInputs(meta_keys=meta)
        try:
            ref = want.transform(dict(case))
        except TypeError:
            with pytest.raises(TypeError):
                got.transform(dict(case))
            continue
        out = got.transform(dict(case))
        assert torch.equal(out['inputs'], ref['inputs']) and out['inputs'].dtype == ref['inputs'].dtype
        assert out['inputs'].is_contiguous() and out['inputs'].shape == ref['inputs'].shape
        a, b = out['data_samples'], ref['data_samples']
        assert a.metainfo == b.metainfo and set(a.keys()) == set(b.keys())
        for key in b.keys():
            assert torch.equal(a.get(key), b.get(key)) and a.get(key).dtype == b.get(key).dtype, key
    (step, ) = fuse_pipeline([PackInputs(algorithm_keys=('text', ), meta_keys=meta)])
    assert type(step) is FastPackInputs and step.algorithm_keys == ('text', ) and step.meta_keys == meta
    assert type(fuse_pipeline([FastPackInputs()])[0]) is FastPackInputs
