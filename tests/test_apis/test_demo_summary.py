"""mmood.apis.digits_demo's summary: set rows come from the plain metric keys, not from the named scores'
'<score>/<set>'; the demo's configs exist."""
import os.path as osp

from conftest import REPO

from mmood.apis.digits_demo import EVAL_CONFIGS, TRAIN_CONFIG, TRAINED_CONFIGS, fpr_convention, set_names_of


def test_set_names_skip_named_scores_and_groups():
    metrics = {'digits 5-9/AUROC': 90.0, 'noise/AUROC': 92.0, 'near/AUROC': 90.0, 'mean/AUROC': 91.0,
               'ID/accuracy': 96.0, 'atd/digits 5-9/AUROC': 90.0, 'ctw/noise/AUROC': 92.0, 'mean/FPR95_id_closest': 5}
    assert set_names_of(metrics) == ['ID', 'digits 5-9', 'noise']
    assert fpr_convention(metrics) == ('id', 'closest')


def test_demo_configs_exist():
    for config in (TRAIN_CONFIG, ) + tuple(EVAL_CONFIGS) + tuple(TRAINED_CONFIGS):
        assert osp.isfile(osp.join(REPO, config)), config
