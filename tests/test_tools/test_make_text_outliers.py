"""tools/dataset_converters/make_text_outliers.py: a config whose model declares no textual outliers
(``model.outliers``) is refused in one line, exit status 2, before any model is built (writing the lists:
tests/test_toe/test_toe_digits.py)."""
import os.path as osp

import pytest
from conftest import REPO, load_tool


def test_a_config_without_textual_outliers_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_tool('dataset_converters/make_text_outliers').main(
            [osp.join(REPO, 'configs', 'mcm', 'mcm_tiny_digits.py'), '--work-dir', str(tmp_path), '--cache-dir',
             str(tmp_path / 'cache')])
    assert exit_.value.code == 2
    assert 'mcm_tiny_digits.py declares no textual outliers (model.outliers' in capsys.readouterr().err
