"""mmood.apis.data_prep: the list files of an ImageNet class subset, labels in the wnid list's order (NPOS's
ImageNet-100 here: not the sorted wnids)."""
import io

import pytest

from mmood.apis import make_subset_lists
from mmood.apis.data_prep import subset_prefix
from mmood.utils import DataError

WNIDS = 'txtfiles/npos_imagenet100_wnids.txt'


def test_lists_follow_the_wnid_list_order(tmp_path):
    root = tmp_path / 'imagenet'
    wnids = open(WNIDS).read().split()
    sorted_wnids = open('txtfiles/imagenet_wnids.txt').read().split()
    for w in wnids[:2]:
        (root / 'train' / w).mkdir(parents=True)
        for name in ('b.JPEG', 'a.JPEG', 'notes.txt'):
            (root / 'train' / w / name).write_text('x')
    with pytest.raises(DataError, match='ImageNet train folder not found'):  # the other 98 train folders
        make_subset_lists(str(root), WNIDS)
    for w in wnids[2:]:
        (root / 'train' / w).mkdir(parents=True)
    (root / 'meta').mkdir()
    first, other = sorted_wnids.index(wnids[0]), sorted_wnids.index('n01440764')  # tench: not in the subset
    (root / 'meta' / 'val.txt').write_text(f'v1.JPEG {other}\nv2.JPEG {first}\n')
    printed = io.StringIO()
    written = make_subset_lists(str(root), WNIDS, out=printed)
    assert written['train'][1] == 4 and written['val'][1] == 1 and 'val: 1 images in' in printed.getvalue()
    train = (root / 'meta' / 'npos_imagenet100_train.txt').read_text().splitlines()
    assert train == [f'{wnids[0]}/a.JPEG 0', f'{wnids[0]}/b.JPEG 0', f'{wnids[1]}/a.JPEG 1', f'{wnids[1]}/b.JPEG 1']
    assert wnids[0] == 'n01986214' and first == 125  # hermit crab: label 0 here, 125 in the sorted order
    assert (root / 'meta' / 'npos_imagenet100_val.txt').read_text().splitlines() == ['v2.JPEG 0']
    (root / 'meta' / 'val.txt').write_text(f'v2.JPEG {first}\nv3.JPEG {first}\n')
    assert make_subset_lists(str(root), WNIDS, out=printed)['val'][1] == 1  # kept ...
    assert make_subset_lists(str(root), WNIDS, force=True, out=printed)['val'][1] == 2  # ... unless forced
    assert make_subset_lists(str(root), WNIDS, prefix='mine', out=printed)['val'][0].endswith('meta/mine_val.txt')


def test_subset_prefix():
    assert subset_prefix('txtfiles/x_imagenet100_wnids.txt') == 'x_imagenet100'
    assert subset_prefix('lists/my_classes.txt') == 'my_classes'
