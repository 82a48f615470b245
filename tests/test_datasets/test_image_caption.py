"""ImageCaptionDataset: webdataset tar shards (img2dataset layout) and TSV files; the cached shard index; dropped
samples counted; unreadable images replaced by the next sample, deterministically; damaged shards indexed as far as
they can be read; tools/verify_data.py on such training data."""
import io
import os
import os.path as osp
import tarfile

import numpy as np
import pytest
from conftest import load_tool
from PIL import Image

from mmood.datasets import ImageCaptionDataset, LoadOODImage, expand_braces, resolve_shards
from mmood.utils import ConfigError, DataError

SIDE = 6


def colour(i):
    """A distinct RGB colour per sample number."""
    return (20 + 37 * i % 220, 200 - 23 * i % 180, 60 + 51 * i % 190)


def image_bytes(i, fmt='PNG'):
    buff = io.BytesIO()
    Image.fromarray(np.full((SIDE, SIDE + 1, 3), colour(i), np.uint8)).save(buff, format=fmt)
    return buff.getvalue()


def write_shard(path, samples):
    """A tar shard as img2dataset writes it: per sample ``<key>.<ext>`` members, in order."""
    with tarfile.open(path, 'w') as tar:
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f'{key}.{ext}')
                info.size = len(data)
                info.mtime = 1_600_000_000
                tar.addfile(info, io.BytesIO(data))
    return str(path)


def sample(i, caption=None, image='png', extra=True):
    members = {}
    if image:
        members[image] = image_bytes(i, 'JPEG' if image in ('jpg', 'jpeg') else 'PNG')
    if caption is not None:
        members['txt'] = caption.encode('utf-8')
    if extra:
        members['json'] = b'{"status": "success"}'
    return members


def make_shards(root):
    """Two shards: 4 samples kept, 2 without caption (absent, blank), 1 without image, 1 jpg preferred over png."""
    os.makedirs(root, exist_ok=True)
    write_shard(osp.join(root, 'gcc-train-00000.tar'), [
        ('000000', sample(0, 'a red square')),
        ('000001', sample(1, '  a blue square \n', extra=False)),
        ('000002', sample(2, None)),  # no caption
        ('000003', sample(3, ' \n')),  # blank caption
    ])
    both = dict(sample(5, 'jpeg and png', image='jpg'), png=image_bytes(6))
    write_shard(osp.join(root, 'gcc-train-00001.tar'), [
        ('sub/000010', sample(4, 'café ☕ in a folder')),
        ('000011', sample(0, 'no image here', image=None)),  # no image
        ('000012', both),
    ])
    return osp.join(root, 'gcc-train-{00000..00001}.tar')


def build(pipeline=(), **kwargs):
    from mmpretrain.registry import DATASETS
    return DATASETS.build(dict(type='ImageCaptionDataset', pipeline=list(pipeline), progress=False, **kwargs))


PIPELINE = [dict(type='LoadOODImage'), dict(type='ResizeEdge', scale=SIDE, edge='short', backend='pillow'),
            dict(type='CenterCrop', crop_size=SIDE), dict(type='PackInputs', algorithm_keys=('text', ))]


def test_braces_and_shard_lists(tmp_path):
    assert expand_braces('s-{008..010}.tar') == ['s-008.tar', 's-009.tar', 's-010.tar']
    assert expand_braces('{a,b{1..2}}-{x}') == ['a-{x}', 'b1-{x}', 'b2-{x}']
    assert len(expand_braces('gcc-train-{00000..00331}.tar')) == 332
    with pytest.raises(ConfigError, match='Unbalanced'):
        expand_braces('a{00..01.tar')
    pattern = make_shards(str(tmp_path / 'cc'))
    first, second = osp.join(tmp_path, 'cc', 'gcc-train-00000.tar'), osp.join(tmp_path, 'cc', 'gcc-train-00001.tar')
    assert resolve_shards(pattern) == ([first, second], [])
    assert resolve_shards('gcc-train-*.tar', data_root=str(tmp_path / 'cc')) == ([first, second], [])
    assert resolve_shards([second, 'cc/gcc-train-0000{0,2}.tar'], data_root=str(tmp_path)) == (
        [second, first], [osp.join(tmp_path, 'cc', 'gcc-train-00002.tar')])


def test_shard_index_content_order_and_packed_samples(tmp_path):
    ds = build(PIPELINE, shards=make_shards(str(tmp_path / 'cc')))
    assert isinstance(ds, ImageCaptionDataset) and ds.mode == 'shards'
    assert len(ds) == 4 and ds.skipped == dict(no_caption=2, no_image=1, truncated=0) and not ds.damaged_shards
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [i['text'] for i in infos] == ['a red square', 'a blue square', 'café ☕ in a folder', 'jpeg and png']
    assert [i['tar_member'] for i in infos] == ['000000.png', '000001.png', 'sub/000010.png', '000012.jpg']
    assert [osp.basename(i['tar_path']) for i in infos] == ['gcc-train-00000.tar'] * 2 + ['gcc-train-00001.tar'] * 2
    assert infos[2]['img_path'] == f'{infos[2]["tar_path"]}/sub/000010.png' and infos[3]['sample_idx'] == 3
    assert 'gt_label' not in infos[0] and 'img_bytes' not in infos[0]
    for idx, number in ((0, 0), (1, 1), (2, 4)):
        packed = ds[idx]
        assert packed['data_samples'].text == infos[idx]['text'] and packed['data_samples'].sample_idx == idx
        assert tuple(packed['inputs'].shape) == (3, SIDE, SIDE)
        assert packed['inputs'][:, 0, 0].tolist() == list(colour(number)[::-1])  # BGR, lossless PNG
    jpeg = ds[3]['inputs'][:, 2, 2].numpy().astype(int)
    assert np.abs(jpeg - np.array(colour(5)[::-1])).max() <= 6  # the jpg member, not the png one
    assert ds.unreadable == 0


def test_bytes_decode_like_the_file(tmp_path):
    path = str(tmp_path / 'x.png')
    with open(path, 'wb') as f:
        f.write(image_bytes(3))
    from_file = LoadOODImage().transform(dict(img_path=path))['img']
    results = LoadOODImage().transform(dict(img_path='not/a/file', img_bytes=image_bytes(3)))
    assert np.array_equal(results['img'], from_file) and 'img_bytes' not in results
    cv2_path = LoadOODImage(imdecode_backend='cv2').transform(dict(img_bytes=image_bytes(3)))['img']
    assert np.array_equal(cv2_path, from_file)


def test_index_is_cached_and_rebuilt_when_a_shard_changes(tmp_path, monkeypatch):
    from mmood.datasets import image_caption
    pattern = make_shards(str(tmp_path / 'cc'))
    opens = []
    real_open = tarfile.open

    def counting_open(*args, **kwargs):
        if kwargs.get('mode') == 'r:':  # the indexer's reads, not this test's writes
            opens.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(image_caption.tarfile, 'open', counting_open)
    cache = str(tmp_path / 'cache')
    first = build(shards=pattern, cache_dir=cache)
    assert len(opens) == 2 and not first.index_from_cache
    second = build(shards=pattern, cache_dir=cache)
    assert len(opens) == 2 and second.index_from_cache and second.skipped == first.skipped
    assert [second.get_data_info(i) for i in range(4)] == [first.get_data_info(i) for i in range(4)]
    from mmood.cache import CacheStore
    entries = CacheStore(cache).list_entries('image_caption_index')
    assert len(entries) == 1 and entries[0]['status'] == 'ok'
    from mmood.apis.cache_admin import describe  # tools/cache.py's lines
    assert 'image-caption index: 4 samples from 2 shards' in describe(entries[0])
    shard = osp.join(tmp_path, 'cc', 'gcc-train-00001.tar')
    stat = os.stat(shard)
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # same bytes, new mtime: indexed again
    third = build(shards=pattern, cache_dir=cache)
    assert len(opens) == 4 and not third.index_from_cache and len(third) == 4
    write_shard(shard, [('000020', sample(7, 'the only one'))])  # new content, new size
    fourth = build(shards=pattern, cache_dir=cache)
    assert len(opens) == 6 and [fourth.get_data_info(i)['text'] for i in range(len(fourth))] == [
        'a red square', 'a blue square', 'the only one']
    assert build(shards=pattern, cache_dir=cache, image_exts=('png', )).get_data_info(2)['tar_member'] == \
        '000020.png' and len(opens) == 8  # other options, other entry
    in_memory = build(shards=pattern, index_workers=2)  # two processes, same index
    assert [in_memory.get_data_info(i) for i in range(3)] == [fourth.get_data_info(i) for i in range(3)]


def test_unreadable_images_are_replaced_by_the_next_sample(tmp_path):
    good = image_bytes(9)
    shard = write_shard(tmp_path / 'broken.tar', [
        ('a', sample(0, 'zero')),
        ('b', dict(png=b'this is not an image', txt=b'one')),
        ('c', dict(png=good[:len(good) // 2], txt=b'two')),  # truncated member
        ('d', sample(3, 'three')),
        ('e', dict(png=b'', txt=b'four')),  # empty member, the last sample: wraps to the first
    ])
    runs = []
    for _ in range(2):
        ds = build(PIPELINE, shards=shard)
        texts = [ds[i]['data_samples'].text for i in range(len(ds))]
        assert [ds[i]['data_samples'].sample_idx for i in range(len(ds))] == [0, 3, 3, 3, 0]
        assert ds.unreadable == 3 and len(ds.unreadable_samples) == 3  # each counted once, not per access
        assert ds.unreadable_samples == [f'{shard}/b.png', f'{shard}/c.png', f'{shard}/e.png']
        runs.append((texts, [ds[i]['inputs'].numpy() for i in range(len(ds))]))
    assert runs[0][0] == runs[1][0] == ['zero', 'three', 'three', 'three', 'zero']
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    with pytest.raises(ConfigError, match='LoadOODImage'):
        build([dict(type='LoadImageFromFile')], shards=shard)  # would look for files that do not exist


def test_only_unreadable_images_give_up_after_max_refetch(tmp_path):
    shard = write_shard(tmp_path / 'bad.tar', [(f'{i:03d}', dict(png=b'junk', txt=b'x')) for i in range(5)])
    ds = build(PIPELINE, shards=shard, max_refetch=3)
    with pytest.raises(DataError, match='no readable sample among the 4 from index 2'):
        ds[2]


@pytest.mark.parametrize('cut', ['data', 'header', 'boundary'])
def test_damaged_shard_is_indexed_as_far_as_it_can_be_read(tmp_path, cut):
    path = write_shard(tmp_path / 'cut.tar', [(f'{i:05d}', sample(i, f'caption {i}', extra=False)) for i in range(4)])
    with tarfile.open(path) as tar:
        third = tar.getmember('00002.png')
    end = dict(data=third.offset_data + 20, header=third.offset + 100, boundary=third.offset)[cut]
    with open(path, 'r+b') as f:
        f.truncate(end)
    good = write_shard(tmp_path / 'good.tar', [('x', sample(5, 'after'))])
    junk = tmp_path / 'junk.tar'
    junk.write_bytes(b'\x17' * 700)
    ds = build(PIPELINE, shards=[path, str(junk), good])
    assert [ds.get_data_info(i)['text'] for i in range(len(ds))] == ['caption 0', 'caption 1', 'after']
    assert ds.skipped['truncated'] == (1 if cut == 'data' else 0)
    assert [p for p, _ in ds.damaged_shards] == [path, str(junk)]
    assert 'not a readable uncompressed tar' in ds.damaged_shards[1][1]
    assert ('cut off' if cut != 'header' else 'unreadable member header') in ds.damaged_shards[0][1]
    assert ds[1]['data_samples'].text == 'caption 1'
    with pytest.raises(DataError, match='no samples'):
        build(shards=str(junk))


def test_missing_shards_and_options(tmp_path):
    pattern = make_shards(str(tmp_path / 'cc'))
    wider = pattern.replace('00001}', '00002}')
    with pytest.raises(DataError, match=r"1 shard\(s\) .* do not exist.*gcc-train-00002.tar.*missing_shards='warn'"):
        build(shards=wider)
    ds = build(shards=wider, missing_shards='warn')
    assert len(ds) == 4 and ds.missing == [osp.join(tmp_path, 'cc', 'gcc-train-00002.tar')]
    assert any('missing shard' in p for p in ds.data_problems(decode=False)[1])
    with pytest.raises(DataError, match='no shard file matches'):
        build(shards='nothing-*.tar', data_root=str(tmp_path))
    for bad in (dict(), dict(shards=pattern, tsv='x.tsv'), dict(shards=[])):
        with pytest.raises(ConfigError, match='exactly one of `shards`'):
            build(**bad)
    assert len(build(shards='gcc-train-*.tar', data_root=str(tmp_path / 'cc'), indices=3)) == 3
    subset = build(shards=pattern).get_subset([3, 1])
    assert [subset.get_data_info(i)['text'] for i in range(2)] == ['jpeg and png', 'a blue square']


def test_tsv_file(tmp_path):
    root = tmp_path / 'images'
    os.makedirs(root / 'sub')
    for name, number in (('a.png', 0), ('sub/b.png', 1)):
        (root / name).write_bytes(image_bytes(number))
    elsewhere = tmp_path / 'abs.png'
    elsewhere.write_bytes(image_bytes(2))
    tsv = tmp_path / 'pairs.tsv'
    tsv.write_text('filepath\tcaption\n'
                   'a.png\tred\tsquare\n'  # a tab inside the caption is kept
                   'sub/b.png\t green \n'
                   f'{elsewhere}\tan absolute path\n'
                   '\n'
                   'c.png\t   \n'  # no caption
                   '\tno path\n'  # no image
                   'missing.png\tgone\n', encoding='utf-8')
    ds = build(PIPELINE, tsv=str(tsv), tsv_header=True, data_root=str(root))
    assert len(ds) == 4 and ds.skipped == dict(no_caption=1, no_image=1, truncated=0)
    infos = [ds.get_data_info(i) for i in range(4)]
    assert [i['text'] for i in infos] == ['red\tsquare', 'green', 'an absolute path', 'gone']
    assert [i['img_path'] for i in infos] == [osp.join(root, 'a.png'), osp.join(root, 'sub/b.png'), str(elsewhere),
                                              osp.join(root, 'missing.png')]
    assert ds[1]['inputs'][:, 0, 0].tolist() == list(colour(1)[::-1])
    assert ds[3]['data_samples'].text == 'red\tsquare' and ds.unreadable == 1  # missing file: the next (first) one
    assert ds.unreadable_samples == [osp.join(root, 'missing.png')]
    relative = build(tsv='pairs.tsv', tsv_header=True, data_root=str(tmp_path), data_prefix=dict(img_path='images'))
    assert relative.get_data_info(0)['img_path'] == osp.join(tmp_path, 'images', 'a.png')
    assert len(build(tsv=str(tsv), data_root=str(root))) == 5  # without tsv_header the header is a sample
    notes, problems = ds.data_problems(workers=2, progress=False)
    assert problems == [f'missing image {osp.join(root, "missing.png")}'] and 'without caption' in notes[1]


def test_default_sampler_partitions_the_samples_over_two_ranks(tmp_path, monkeypatch):
    import mmengine.dataset.sampler as sampler_module
    from mmengine.dataset import DefaultSampler
    ds = build(PIPELINE, shards=make_shards(str(tmp_path / 'cc')))
    parts = []
    for rank in range(2):
        monkeypatch.setattr(sampler_module, 'get_dist_info', lambda rank=rank: (rank, 2))
        sampler = DefaultSampler(ds, shuffle=True, seed=0)
        sampler.set_epoch(1)
        parts.append(list(sampler))
    assert len(parts[0]) == len(parts[1]) == 2 and sorted(parts[0] + parts[1]) == [0, 1, 2, 3]
    assert [ds[i]['data_samples'].text for i in parts[1]] == [ds.get_data_info(i)['text'] for i in parts[1]]


def test_verify_data_reports_counts_drops_and_unreadable_members(tmp_path, capsys):
    tool = load_tool('verify_data')
    pattern = make_shards(str(tmp_path / 'cc'))
    config = tmp_path / 'clean.py'
    config.write_text(f'train_dataloader = dict(dataset=dict(type=\'ImageCaptionDataset\', shards={pattern!r}, '
                      f'pipeline={PIPELINE!r}))\n')
    assert tool.main([str(config), '--workers', '2']) == 0
    out = capsys.readouterr().out
    assert '== train_dataloader.dataset (ImageCaptionDataset)' in out and 'all data present' in out
    assert 'dropped while indexing: 2 without caption, 1 without image, 0 cut off' in out
    assert [line.split()[:2] for line in out.splitlines() if line.startswith('train ')] == [['train', '4']]
    broken = write_shard(tmp_path / 'broken.tar', [('a', sample(0, 'zero')),
                                                   ('b', dict(png=b'not an image', txt=b'one'))])
    config.write_text(f'train_dataloader = dict(dataset=dict(type=\'ImageCaptionDataset\', shards=[{broken!r}]))\n')
    assert tool.main([str(config), '--workers', '2']) == 1
    assert f'train: unreadable image {broken}/b.png (UnidentifiedImageError: cannot identify image data (12 ' \
        'bytes))' in capsys.readouterr().out
    assert tool.main([str(config), '--no-decode']) == 0  # only decoding finds it
    with tarfile.open(broken) as tar:
        cut = tar.getmember('b.png').offset_data + 5
    with open(broken, 'r+b') as f:
        f.truncate(cut)
    assert tool.main([str(config), '--no-decode']) == 1
    assert f'train: damaged shard {broken}' in capsys.readouterr().out
