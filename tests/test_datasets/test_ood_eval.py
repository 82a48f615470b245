"""The ID+OOD evaluation dataset: layouts, metadata and every bad-input error."""
import copy
import os.path as osp

import pytest
from conftest import load_tool, make_benchmark, tiny_pipeline
from mmpretrain.registry import DATASETS

from mmood.utils import DataError


def build(cfg):
    return DATASETS.build(copy.deepcopy(cfg))


def test_folders(benchmark_dir):
    root, cfg = benchmark_dir
    ds = build(cfg)
    assert ds.metainfo['set_names'] == ('TinyID', 'Noise', 'Flat')
    assert ds.metainfo['set_groups'] == ('id', 'far', 'near')
    assert ds.metainfo['classes'] == ('zero', 'one', 'two')
    assert ds.set_counts() == {'TinyID': 9, 'Noise': 4, 'Flat': 5}
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [i['gt_label'] for i in infos[:9]] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert all(i['gt_label'] == -1 and i['is_ood'] == 1 for i in infos[9:])
    assert all('nested' in i['img_path'] for i in infos[9:13])  # recursive scan
    sample = ds[0]
    assert sample['inputs'].shape == (3, 32, 32)
    ds_meta = sample['data_samples']
    assert ds_meta.set_id == 0 and ds_meta.is_ood == 0 and int(ds_meta.gt_label) == 0


def test_folder_order_file(benchmark_dir, tmp_path):
    root, cfg = benchmark_dir
    order = tmp_path / 'order.txt'
    order.write_text('two\none\nzero\n')
    cfg = copy.deepcopy(cfg)
    cfg['id_set']['folder_order'] = str(order)
    infos = [build(cfg).get_data_info(i) for i in range(9)]
    assert [osp.basename(osp.dirname(i['img_path'])) for i in infos[::3]] == ['two', 'one', 'zero']
    assert [i['gt_label'] for i in infos[::3]] == [0, 1, 2]


def test_annotation_lists_with_prefix(benchmark_dir, tmp_path):
    root, cfg = benchmark_dir
    ann = tmp_path / 'id.txt'
    ann.write_text('zero/img_0_000.png 0\ntwo/img_2_001.png 2\n')
    ood = tmp_path / 'ood.txt'
    ood.write_text('img_11_000.png 7\nimg_11_001.png -1\n')  # OpenOOD-style labels: ignored for OOD
    cfg = dict(type='OODEvalDataset', class_names=['zero', 'one', 'two'], pipeline=tiny_pipeline(),
               id_set=dict(ann_file=str(ann), data_prefix=osp.join(root, 'id')),
               ood_sets=[dict(name='B', ann_file=str(ood), data_root=osp.join(root, 'ood_b'))])
    ds = build(cfg)
    assert [ds.get_data_info(i)['gt_label'] for i in range(4)] == [2 - 2, 2, -1, -1]
    assert ds.get_data_info(1)['img_path'] == osp.join(root, 'id', 'two/img_2_001.png')
    assert ds[3]['inputs'].shape == (3, 32, 32)


def test_missing_data_root(benchmark_dir):
    _, cfg = benchmark_dir
    cfg = copy.deepcopy(cfg)
    cfg['ood_sets'][0]['data_root'] = '/nonexistent/iNaturalist'
    with pytest.raises(FileNotFoundError, match=r'set "Noise": data_root not found: /nonexistent/iNaturalist'):
        build(cfg)


def test_empty_ood_set(benchmark_dir, tmp_path):
    _, cfg = benchmark_dir
    cfg = copy.deepcopy(cfg)
    empty = tmp_path / 'empty'
    (empty / 'sub').mkdir(parents=True)
    (empty / 'sub' / 'notes.txt').write_text('not an image')
    cfg['ood_sets'][1]['data_root'] = str(empty)
    with pytest.raises(FileNotFoundError, match=r'set "Flat": no images found'):
        build(cfg)
    cfg['ood_sets'] = []
    with pytest.raises(ValueError, match='at least one OOD set'):
        build(cfg)


def test_class_name_count_mismatch(benchmark_dir, tmp_path):
    _, cfg = benchmark_dir
    cfg = copy.deepcopy(cfg)
    cfg['class_names'] = ['zero', 'one']
    with pytest.raises(FileNotFoundError, match=r'3 class folders .* but 2 class names \(option `class_names`\)'):
        build(cfg)
    names = tmp_path / 'names.txt'
    names.write_text('a\nb\nc\nd\n')
    ann = tmp_path / 'ann.txt'
    ann.write_text('x.png 7\n')
    cfg['class_names'] = str(names)
    cfg['id_set'] = dict(ann_file=str(ann), data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'labels \[7\] outside \[0, 4\).*class_names'):
        build(cfg)
    cfg['class_names'] = str(tmp_path / 'none.txt')
    with pytest.raises(FileNotFoundError, match=r'Class-name file not found: .*none.txt'):
        build(cfg)


def test_unreadable_image(tmp_path):
    cfg = make_benchmark(str(tmp_path))
    bad = osp.join(str(tmp_path), 'ood_b', 'broken.jpg')
    with open(bad, 'wb') as f:
        f.write(b'this is not a jpeg')
    ds = build(cfg)
    idx = [i for i in range(len(ds)) if ds.get_data_info(i)['img_path'] == bad][0]
    with pytest.raises(DataError, match=r'Cannot read image .*broken.jpg \(set "Flat"\)[\s\S]*verify_data.py'
                                        r'[\s\S]*skip_unreadable=True'):
        ds[idx]


def test_duplicate_set_names_and_groups(benchmark_dir):
    _, cfg = benchmark_dir
    bad = copy.deepcopy(cfg)
    bad['ood_sets'][1]['name'] = 'Noise'
    with pytest.raises(ValueError, match='unique `name`'):
        build(bad)
    bad = copy.deepcopy(cfg)
    bad['ood_sets'][0]['group'] = 'medium'
    with pytest.raises(ValueError, match="group must be one of"):
        build(bad)


def test_verify_data_tool(benchmark_dir, tmp_path, capsys):
    from mmood.apis.verify import verify
    root, cfg = benchmark_dir
    assert verify(cfg) is True
    ann = tmp_path / 'list.txt'
    ann.write_text('a.png\nb.png\n')
    cfg = copy.deepcopy(cfg)
    cfg['ood_sets'].append(dict(name='Listed', ann_file=str(ann), data_root=str(tmp_path), group='far'))
    capsys.readouterr()
    assert verify(cfg) is False
    out = capsys.readouterr().out
    assert 'TinyID' in out and '9' in out and 'missing image' in out and 'a.png' in out and 'b.png' in out


def test_class_folders_must_follow_the_class_names(tmp_path):
    """Folders named like the classes are sorted (four, one, three, two, zero): against names in natural order
    every image would get another class's label. Refused; folder_order (or names in folder order) fixes it."""
    from mmood.utils import DataError
    names = ['zero', 'one', 'two', 'three', 'four']
    cfg = make_benchmark(str(tmp_path), n_per_class=1, classes=tuple(names), n_ood=(1, 1))
    cfg['id_set'].pop('folder_order')
    with pytest.raises(DataError, match=r"class folders \['four', 'one', 'three', 'two', 'zero'\] \(sorted\) are not "
                                        r"in the order of `class_names` \['zero', 'one', 'two', 'three', 'four'\]"):
        build(cfg)
    assert build(dict(cfg, class_names=sorted(names))).metainfo['classes'] == tuple(sorted(names))
    wnids = dict(cfg, class_names=[f'class {i}' for i in range(5)])  # folders as identities: count only
    assert len(build(wnids)) == 7


def test_id_images_inside_an_ood_set_are_refused(tmp_path):
    from mmood.utils import DataError
    cfg = make_benchmark(str(tmp_path), n_ood=(2, 2))
    cfg['ood_sets'].append(dict(name='Everything', data_root=str(tmp_path), group='far'))  # holds id/ too
    with pytest.raises(DataError, match=r'sets "TinyID" \(ID\) and "Everything" \(OOD\) overlap: folder .*id lies '
                                        r'in [\s\S]*9 images of OOD set "Everything" are also in the ID set'):
        build(cfg)
    assert len(build(dict(cfg, allow_overlap=True))) == 9 + 2 + 2 + 13


def test_listed_sets_may_share_one_image_folder(benchmark_dir, tmp_path):
    """OpenOOD v1.5's layout: the ID list and every OOD list name files under one shared image folder. That is no
    overlap; a file listed by both still is."""
    from mmood.utils import DataError
    root, _ = benchmark_dir
    (tmp_path / 'id.txt').write_text('id/zero/img_0_000.png 0\nid/two/img_2_001.png 2\n')
    (tmp_path / 'ood.txt').write_text('ood_b/img_11_000.png -1\nood_a/nested/deeper/img_10_000.png -1\n')
    cfg = dict(type='OODEvalDataset', class_names=['zero', 'one', 'two'], pipeline=tiny_pipeline(),
               id_set=dict(name='ID', ann_file=str(tmp_path / 'id.txt'), data_prefix=root),
               ood_sets=[dict(name='Listed', ann_file=str(tmp_path / 'ood.txt'), data_prefix=root)])
    assert len(build(cfg)) == 4
    (tmp_path / 'ood.txt').write_text('ood_b/img_11_000.png -1\nid/two/img_2_001.png -1\n')
    with pytest.raises(DataError, match=r'1 images of OOD set "Listed" are also in the ID set "ID"'):
        build(cfg)


def test_model_class_names_must_be_the_data_classes(tmp_path):
    """4 or 6 names for the data's 5 classes, a duplicate, another order: refused before testing; a config that
    names the same classes differently says so (class_name_check='count')."""
    import torch
    from conftest import tiny_backbone
    from mmpretrain.registry import MODELS

    from mmood.utils import ConfigError
    torch.manual_seed(0)
    names = ['zero', 'one', 'two', 'three', 'four']

    def model(class_names, check='names'):
        return MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=class_names,
                                 head=dict(type='MCMHead'), class_name_check=check))

    for wrong, message in ((names[:4], 'has 4 names but the test data has 5 classes'),
                           (names + ['five'], 'has 6 names but the test data has 5 classes'),
                           (['zero', 'zero', 'two', 'three', 'four'], 'at label 1: "zero" vs "one"'),
                           (sorted(names), 'at label 0: "four" vs "zero"')):
        with pytest.raises(ConfigError, match=message):
            model(wrong).check_dataset_classes(names, 'the test data')
    renamed = model([f'digit {n}' for n in names], check='count')
    renamed.check_dataset_classes(names)  # same count: accepted, by the config's own statement
    with pytest.raises(ConfigError, match='has 4 names'):
        model(names[:4], check='count').check_dataset_classes(names, 'the test data')
    assert model(['a', 'b', 'a']).duplicate_class_names == ['a'] and 'duplicate class names' in \
        model(['a', 'b', 'a']).report_notes()[0]


def test_verify_data_decodes_every_image_and_checks_training_data(tmp_path, capsys):
    """verify_data on a config: a truncated image and an ID folder inside an OOD root are reported with the
    messages a run would stop with; the training data the config names is checked too."""
    from PIL import Image
    import numpy as np
    tool = load_tool('verify_data')
    cfg = make_benchmark(str(tmp_path / 'bench'))
    broken = str(tmp_path / 'bench' / 'ood_b' / 'cut.jpg')
    Image.fromarray(np.full((40, 40, 3), 50, np.uint8)).save(broken)
    with open(broken, 'r+b') as f:
        f.truncate(200)
    config = tmp_path / 'cfg.py'
    config.write_text(f'''test_dataloader = dict(dataset={cfg!r})
train_dataloader = dict(dataset=dict(type='CustomDataset', data_root={str(tmp_path / 'no_train')!r}))
''')
    assert tool.main([str(config), '--workers', '2']) == 1
    out = capsys.readouterr().out
    assert f'set "Flat": unreadable image {broken}' in out
    assert '== train_dataloader.dataset (CustomDataset)' in out and 'cannot build CustomDataset' in out
    assert tool.main([str(config), '--no-decode']) == 1  # the training data is still missing
    assert 'unreadable image' not in capsys.readouterr().out
    cfg['ood_sets'].append(dict(name='All', data_root=str(tmp_path / 'bench'), group='far'))
    from mmood.apis.verify import verify
    assert verify(cfg, decode=False) is False
    assert '"TinyID" (ID) and "All" (OOD) overlap' in capsys.readouterr().out
