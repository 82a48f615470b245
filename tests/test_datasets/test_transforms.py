"""LoadOODImage: mmcv's pillow pixels bit for bit on ordinary images; 16-bit and other wide images scaled, not
clipped; unreadable images named, or skipped and counted with skip_unreadable=True."""
import os.path as osp

import cv2
import numpy as np
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
