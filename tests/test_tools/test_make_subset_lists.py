"""tools/dataset_converters/make_subset_lists.py: arguments to :func:`mmood.apis.make_subset_lists`; a missing
folder is one line and exit status 2 (the lists themselves: tests/test_apis/test_data_prep.py)."""
import pytest
from conftest import load_tool

TOOL = 'dataset_converters/make_subset_lists'


def test_command_line(tmp_path, capsys):
    tool = load_tool(TOOL)
    wnids = tmp_path / 'two_wnids.txt'
    wnids.write_text('n01986214\nn01440764\n')
    root = tmp_path / 'imagenet'
    with pytest.raises(SystemExit) as exit_:
        tool.main(['--root', str(root), '--wnids', str(wnids)])
    assert exit_.value.code == 2 and 'error: ImageNet train folder not found' in capsys.readouterr().err
    for w in ('n01986214', 'n01440764'):
        (root / 'train' / w).mkdir(parents=True)
        (root / 'train' / w / 'a.JPEG').write_text('x')
    (root / 'meta').mkdir()
    (root / 'meta' / 'val.txt').write_text('v1.JPEG 0\n')  # sorted index 0 = n01440764 = label 1 of this list
    assert tool.main(['--root', str(root), '--wnids', str(wnids)]) == 0
    assert (root / 'meta' / 'two_train.txt').read_text() == 'n01986214/a.JPEG 0\nn01440764/a.JPEG 1\n'
    assert (root / 'meta' / 'two_val.txt').read_text() == 'v1.JPEG 1\n'
    assert 'train: 2 images in' in capsys.readouterr().out
