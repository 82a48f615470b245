"""tools/npos/make_lists.py: NPOS's ImageNet-100 lists, labels in NPOS's order (not the sorted wnids)."""
from conftest import load_tool


def test_lists_follow_npos_order(tmp_path):
    tool = load_tool('npos/make_lists')
    root = tmp_path / 'imagenet'
    wnids = open('txtfiles/npos_imagenet100_wnids.txt').read().split()
    sorted_wnids = open('txtfiles/imagenet_wnids.txt').read().split()
    for w in wnids[:2]:
        (root / 'train' / w).mkdir(parents=True)
        for name in ('b.JPEG', 'a.JPEG', 'notes.txt'):
            (root / 'train' / w / name).write_text('x')
    assert tool.main(['--root', str(root)]) == 2  # the other 98 train folders are missing
    for w in wnids[2:]:
        (root / 'train' / w).mkdir(parents=True)
    (root / 'meta').mkdir()
    first, other = sorted_wnids.index(wnids[0]), sorted_wnids.index('n01440764')  # tench: not an NPOS class
    (root / 'meta' / 'val.txt').write_text(f'v1.JPEG {other}\nv2.JPEG {first}\n')
    assert tool.main(['--root', str(root)]) == 0
    train = (root / 'meta' / 'npos_imagenet100_train.txt').read_text().splitlines()
    assert train == [f'{wnids[0]}/a.JPEG 0', f'{wnids[0]}/b.JPEG 0', f'{wnids[1]}/a.JPEG 1', f'{wnids[1]}/b.JPEG 1']
    assert wnids[0] == 'n01986214' and first == 125  # hermit crab: label 0 here, 125 in the sorted order
    assert (root / 'meta' / 'npos_imagenet100_val.txt').read_text().splitlines() == ['v2.JPEG 0']
