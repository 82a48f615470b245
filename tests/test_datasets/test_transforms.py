"""LoadOODImage and the other loading steps: the reference implementations' ``Image.open(p).convert('RGB')`` pixels
by default (alone, fused with the resize and crop, and followed by the configs' resize + crop, against torchvision's
Resize + CenterCrop); the named options give mmcv's pillow pixels (EXIF orientation, LA composited) and wide images
scaled by value; unreadable images named, or skipped and counted with skip_unreadable=True."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image, ImageOps

from mmood.datasets import LoadOODImage, unreadable_images

#: mmood's earlier default: mmcv's pillow decoding (EXIF orientation, LA over a canvas), wide images scaled
MMCV = dict(exif_orientation=True, alpha='mmcv', bit_depth='scale')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load(path, cls=LoadOODImage, **options):
    return cls(imdecode_backend='pillow', **options).transform(dict(img_path=path))['img']


def reference(path) -> np.ndarray:
    """What every reference implementation decodes (OpenAI CLIP, torchvision ImageFolder, NegLabel, MCM,
    OpenOOD), as BGR: ``Image.open(path).convert('RGB')``."""
    with Image.open(path) as img:
        return np.ascontiguousarray(np.asarray(img.convert('RGB'))[..., ::-1])


def photo(width, height, seed=0):
    """A photo-like RGB image: smooth colour gradients, sensor noise, hard-edged shapes and a fine texture."""
    from PIL import ImageDraw
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / height, xx / width
    freq, phase = rng.uniform(1, 6, (3, 2)), rng.uniform(0, 6, (3, 2))
    img = np.stack([128 + 90 * np.sin(3 * freq[c, 0] * xx + phase[c, 0]) * np.cos(3 * freq[c, 1] * yy + phase[c, 1])
                    for c in range(3)], -1)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [x0, y0, x0 + int(rng.integers(10, width // 4)), y0 + int(rng.integers(10, height // 4))]
        colour, kind = tuple(int(c) for c in rng.integers(0, 256, 3)), rng.integers(0, 3)
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(1, 8)))
    texture = (rng.integers(0, 2, (height // 4, width // 4)) * 255).astype(np.uint8)
    out.paste(Image.fromarray(texture).convert('RGB'), (width // 2, height // 2))
    return out


def special_images(root, width=400, height=300):
    """The images whose decoding differs between the references and mmcv's pillow backend: a JPEG with EXIF
    orientation 6, an LA, an RGBA and a palette PNG with a transparent colour; name -> path."""
    rng = np.random.default_rng(3)
    base = photo(width, height, seed=1)
    files = {}
    rotated = base.copy()
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when applied
    files['exif6.jpg'] = rotated, dict(exif=exif, quality=90)
    alpha = rng.integers(0, 256, (height, width), dtype=np.uint8)
    files['la.png'] = Image.fromarray(np.dstack([np.asarray(base.convert('L')), alpha]), mode='LA'), {}
    files['rgba.png'] = Image.fromarray(np.dstack([np.asarray(base), alpha])), {}
    palette = base.convert('P')
    files['p_transparency.png'] = palette, dict(transparency=int(np.asarray(palette)[0, 0]))
    out = {}
    for name, (img, kwargs) in files.items():
        out[name] = str(root / name)
        img.save(out[name], **kwargs)
    with Image.open(out['p_transparency.png']) as img:
        assert img.mode == 'P' and 'transparency' in img.info
    return out


def test_default_decoding_is_the_references(tmp_path):
    """The loading step, decode_image and the unreadable-image check decode every kind of image as
    ``Image.open(p).convert('RGB')`` (BGR): EXIF orientation ignored, alpha dropped, wide images clipped."""
    from mmood.datasets import decode_image
    files = list(special_images(tmp_path).values())
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    for name, img in (('rgb.png', Image.fromarray(rgb)), ('rgb.jpg', Image.fromarray(rgb)),
                      ('gray.png', Image.fromarray(rgb[..., 0])), ('palette.png', Image.fromarray(rgb).convert('P')),
                      ('cmyk.jpg', Image.fromarray(rgb).convert('CMYK')),
                      ('gray16.png', Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)),
                      ('int32.tif', Image.fromarray(rgb[..., 0].astype(np.int32) * 300)),
                      ('float.tif', Image.fromarray(rgb[..., 0].astype(np.float32) / 255.0, mode='F'))):
        img.save(str(tmp_path / name))
        files.append(str(tmp_path / name))
    for path in files:
        want = reference(path)
        got = load(path)
        assert got.dtype == np.uint8 and got.flags['C_CONTIGUOUS'] and np.array_equal(got, want), path
        encoded = open(path, 'rb').read()
        assert np.array_equal(decode_image(path), want) and np.array_equal(decode_image(encoded), want), path
        assert np.array_equal(LoadOODImage().transform(dict(img_path='x', img_bytes=encoded))['img'], want), path
    assert load(files[0]).shape == (300, 400, 3)  # EXIF orientation 6 not applied
    assert unreadable_images(files, workers=2, progress=False) == []


def test_the_named_options_give_mmcvs_pillow_pixels(tmp_path):
    """exif_orientation=True, alpha='mmcv', bit_depth='scale' is mmcv's pillow decoding (EXIF orientation applied,
    LA over its canvas colour) with wide images scaled: bit for bit on ordinary images."""
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
        ours, theirs = load(path, **MMCV), load(path, LoadImageFromFile)
        assert ours.dtype == np.uint8 and ours.shape == theirs.shape and np.array_equal(ours, theirs), path
    assert load(files[-1], **MMCV).shape[:2] == (17, 13)  # orientation applied, as mmcv does
    assert load(files[-1]).shape[:2] == (13, 17)  # not by default


def test_each_option_changes_what_it_names(tmp_path):
    """exif_orientation=True: exif_transpose'd pixels; alpha='composite': every image with transparency over the
    canvas colour; alpha='mmcv': LA only; the other options leave such an image as the default decodes it."""
    from mmood.datasets.transforms import CANVAS
    files = special_images(tmp_path)
    with Image.open(files['exif6.jpg']) as img:
        transposed = np.asarray(ImageOps.exif_transpose(img).convert('RGB'))[..., ::-1]
    assert transposed.shape == (400, 300, 3)
    assert np.array_equal(load(files['exif6.jpg'], exif_orientation=True), transposed)
    for options in (dict(alpha='composite'), dict(alpha='mmcv'), dict(bit_depth='scale')):
        assert np.array_equal(load(files['exif6.jpg'], **options), reference(files['exif6.jpg'])), options

    def composited(path):
        with Image.open(path) as img:
            rgba = img.convert('RGBA')
        canvas = Image.new('RGB', rgba.size, CANVAS)
        canvas.paste(rgba, mask=rgba.getchannel('A'))
        return np.asarray(canvas)[..., ::-1]

    for name in ('la.png', 'rgba.png', 'p_transparency.png'):
        path = files[name]
        want = composited(path)
        assert not np.array_equal(want, reference(path)), name  # the image has transparent pixels
        assert np.array_equal(load(path, alpha='composite'), want), name
        assert np.array_equal(load(path, alpha='mmcv'), want if name == 'la.png' else reference(path)), name
        assert np.array_equal(load(path, exif_orientation=True, bit_depth='scale'), reference(path)), name
    for bad in (dict(alpha='blend'), dict(bit_depth='round'), dict(exif_orientation='yes')):
        with pytest.raises(ValueError):
            LoadOODImage(**bad)
    with pytest.raises(ValueError, match='pillow colour'):
        LoadOODImage(imdecode_backend='cv2', exif_orientation=True)
    assert LoadOODImage(imdecode_backend='cv2').decoding == dict(exif_orientation=False, alpha='drop',
                                                                 bit_depth='clip')


def test_rotated_jpeg_and_alpha_pngs_match_the_reference_preprocessing(tmp_path):
    """The configs' test pipelines (bilinear 224 / bicubic 256 / bicubic 224 + centre crop 224), loaded from
    configs/, run step by step and fused as OODEvalDataset runs them: the pixels of ``Image.open(p).convert('RGB')``
    + torchvision's ``Resize`` + ``CenterCrop`` on the EXIF-rotated JPEG and the LA, RGBA and palette PNGs with
    transparency. With mmcv's options the rotated JPEG and the LA PNG differ from it by many levels."""
    from mmengine.config import Config
    from mmpretrain.registry import TRANSFORMS
    from torchvision import transforms as T

    from mmood.datasets import PillowLoadResizeEdge, fuse_pipeline
    files = special_images(tmp_path)
    checked, moved = 0, {}
    for base in ('imagenet_mos_ood.py', 'imagenet_openood_v15.py', 'plp_imagenet.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', base))
        pipeline = cfg.test_dataloader.dataset.pipeline
        load_cfg, resize, crop = [p.to_dict() for p in pipeline[:3]]
        assert (load_cfg['type'], resize['type'], crop['type']) == ('LoadOODImage', 'ResizeEdge', 'CenterCrop')
        mode = {'bilinear': T.InterpolationMode.BILINEAR, 'bicubic': T.InterpolationMode.BICUBIC}[
            resize['interpolation']]
        torchvision_steps = T.Compose([T.Resize(resize['scale'], interpolation=mode), T.CenterCrop(crop['crop_size'])])
        for options in ({}, MMCV):
            steps = [TRANSFORMS.build(dict(load_cfg, **options)), TRANSFORMS.build(resize), TRANSFORMS.build(crop)]
            (fused, ) = fuse_pipeline(steps)
            assert isinstance(fused, PillowLoadResizeEdge) and fused.decoding == steps[0].decoding
            for name, path in files.items():
                with Image.open(path) as img:
                    want = np.asarray(torchvision_steps(img.convert('RGB')))[..., ::-1]
                assert want.shape == (224, 224, 3)
                for got in (_run(steps, img_path=path)['img'], _run([fused], img_path=path)['img'],
                            _run([fused], img_path=path, img_bytes=open(path, 'rb').read())['img']):
                    if not options:
                        assert np.array_equal(got, want), (base, name)
                        checked += 1
                    else:
                        diff = int(np.abs(got.astype(int) - want.astype(int)).max())
                        moved[name] = max(moved.get(name, 0), diff)
    assert checked == 3 * len(files) * 3
    assert moved['exif6.jpg'] > 100 and moved['la.png'] > 50, moved  # what mmcv's decoding changes
    assert moved['rgba.png'] == 0 and moved['p_transparency.png'] == 0, moved  # mmcv drops their alpha too


def test_16_bit_png_decodes_like_convert_by_default_and_scaled_on_request(tmp_path):
    """bit_depth='clip' (default): PIL's convert('RGB') saturates 16-bit values, as the references decode them;
    bit_depth='scale': a 16-bit image decodes like its 8-bit version."""
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(gray).save(str(tmp_path / 'gray8.png'))
    Image.fromarray(gray.astype(np.uint16) * 257).save(str(tmp_path / 'gray16.png'))  # I;16 PNG
    with Image.open(str(tmp_path / 'gray16.png')) as img:
        assert img.mode in ('I;16', 'I')
    eight, sixteen = load(str(tmp_path / 'gray8.png')), load(str(tmp_path / 'gray16.png'), bit_depth='scale')
    assert np.array_equal(eight, sixteen)
    assert load(str(tmp_path / 'gray16.png')).mean() > 250  # the references' (and mmcv's) decoding: almost white
    assert np.array_equal(load(str(tmp_path / 'gray16.png')), reference(str(tmp_path / 'gray16.png')))
    colour = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'rgb48.png'), colour.astype(np.uint16) * 257)  # 16 bits per channel
    cv2.imwrite(str(tmp_path / 'rgb24.png'), colour)
    assert np.array_equal(load(str(tmp_path / 'rgb48.png'), bit_depth='scale'), load(str(tmp_path / 'rgb24.png')))
    floats = Image.fromarray(gray.astype(np.float32) / 255.0, mode='F')
    floats.save(str(tmp_path / 'float.tif'))
    scaled = load(str(tmp_path / 'float.tif'), bit_depth='scale')
    assert np.abs(scaled.astype(int) - load(str(tmp_path / 'gray8.png'))).max() <= 1
    assert load(str(tmp_path / 'float.tif')).max() <= 1  # convert('RGB'): [0, 1] floats truncated to 0 or 1


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


@pytest.mark.parametrize('options', [{}, MMCV, dict(alpha='composite')], ids=['default', 'mmcv', 'composite'])
def test_fused_load_and_resize_give_the_configured_pixels(tmp_path, options):
    """OODEvalDataset runs LoadOODImage + a pillow ResizeEdge as one step (fuse_pipeline): bit-identical arrays
    and result keys for colour, grayscale, palette, RGBA, LA, 16-bit and EXIF-rotated images of odd sizes, from
    files and from bytes, with the loading step's decoding options; the output is one contiguous BGR array."""
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
        configured = _configured(scale, edge, interpolation, **options)
        (fused, ) = fuse_pipeline(configured)
        assert isinstance(fused, PillowLoadResizeEdge) and fused.decoding == configured[0].decoding
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
        configured = _configured(scale, 'short', 'bilinear', **options) + [CenterCrop(crop_size=crop)]
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
    """Draft mode decodes a large JPEG at a reduced DCT scale: the same output size, pixels within the bound that
    docs/decoding.md states (measured at most 22 levels, mean under 0.75, on photo-like 2000x1500 and 4000x3000
    JPEGs of quality 90 resized to 224 and centre-cropped): more than one level, not more than 24 here."""
    from mmcv.transforms import CenterCrop

    from mmood.datasets import fuse_pipeline
    path = str(tmp_path / 'big.jpg')
    photo(2000, 1500).save(path, quality=90)
    for interpolation in ('bilinear', 'bicubic'):
        crop = [CenterCrop(crop_size=224)]
        (exact, ) = fuse_pipeline(_configured(224, 'short', interpolation) + crop)
        (draft, ) = fuse_pipeline(_configured(224, 'short', interpolation, draft=True) + crop)
        assert draft.draft and not exact.draft
        want, fast = _run([exact], img_path=path), _run([draft], img_path=path)
        assert fast['img'].shape == want['img'].shape == (224, 224, 3)
        assert tuple(fast['ori_shape']) == tuple(want['ori_shape']) == (1500, 2000)
        diff = np.abs(fast['img'].astype(int) - want['img'].astype(int))
        assert 1 < diff.max() <= 24 and diff.mean() < 1, (interpolation, diff.max(), diff.mean())
    # a small JPEG is decoded at full size: nothing to gain, the same pixels
    small = str(tmp_path / 'small.jpg')
    photo(300, 200).save(small, quality=90)
    (draft, ) = fuse_pipeline(_configured(224, 'short', 'bilinear', draft=True))
    assert np.array_equal(_run([draft], img_path=small)['img'],
                          _run(fuse_pipeline(_configured(224, 'short', 'bilinear')), img_path=small)['img'])


def test_rotated_jpeg_in_draft_mode(tmp_path):
    """Draft mode follows the orientation option: the target size is computed in the orientation decoded."""
    from mmood.datasets import fuse_pipeline
    img = photo(800, 600)
    exif = img.getexif()
    exif[0x0112] = 6
    path = str(tmp_path / 'rot.jpg')
    img.save(path, exif=exif, quality=90)
    for options, shape, ori in (({}, (64, 85, 3), (600, 800)), (dict(exif_orientation=True), (85, 64, 3), (800, 600))):
        (draft, ) = fuse_pipeline(_configured(64, 'short', 'bilinear', draft=True, **options))
        (exact, ) = fuse_pipeline(_configured(64, 'short', 'bilinear', **options))
        fast, want = _run([draft], img_path=path), _run([exact], img_path=path)
        assert fast['img'].shape == want['img'].shape == shape and tuple(fast['ori_shape']) == ori, options
        assert np.abs(fast['img'].astype(int) - want['img'].astype(int)).mean() < 2


def test_decoding_options_reach_repr_and_the_pipeline_description():
    """The options are in the steps' repr and in describe_pipeline (with their defaults written out), so two
    pipelines that decode differently never read alike (report headers; keys made from the pipeline)."""
    from mmood.datasets import (LoadEncodedImage, PillowLoadResizeEdge, describe_pipeline, fuse_pipeline,
                                with_decoding_defaults)
    for step in (LoadOODImage(), LoadEncodedImage(), PillowLoadResizeEdge(224)):
        assert "exif_orientation=False, alpha='drop', bit_depth='clip'" in repr(step), repr(step)
    assert "exif_orientation=True, alpha='mmcv', bit_depth='scale'" in repr(LoadOODImage(**MMCV))
    (fused, ) = fuse_pipeline(_configured(24, 'short', 'bilinear', **MMCV))
    assert "exif_orientation=True, alpha='mmcv', bit_depth='scale'" in repr(fused)
    plain = [dict(type='LoadOODImage', imdecode_backend='pillow'), dict(type='ResizeEdge', scale=224),
             dict(type='PackInputs')]
    line = describe_pipeline(plain)
    assert line == ('LoadOODImage(imdecode_backend=pillow, exif_orientation=False, alpha=drop, bit_depth=clip) -> '
                    'ResizeEdge(scale=224)'), line
    assert describe_pipeline([dict(plain[0], **DEFAULTS_WRITTEN)] + plain[1:]) == line  # a default named or not
    seen = {line}
    for option in (dict(exif_orientation=True), dict(alpha='composite'), dict(alpha='mmcv'), dict(bit_depth='scale')):
        seen.add(describe_pipeline([dict(plain[0], **option)] + plain[1:]))
    assert len(seen) == 5
    assert 'exif_orientation=False' in describe_pipeline([dict(type='mmood.LoadEncodedImage')])
    assert describe_pipeline([dict(type='LoadOODImage', imdecode_backend='cv2')]) == \
        'LoadOODImage(imdecode_backend=cv2)'  # other backends decode as mmcv does: no options
    assert with_decoding_defaults(plain)[1:] == plain[1:] and with_decoding_defaults(None) == []
    assert plain[0] == dict(type='LoadOODImage', imdecode_backend='pillow')  # the config is not changed


DEFAULTS_WRITTEN = dict(exif_orientation=False, alpha='drop', bit_depth='clip')


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
