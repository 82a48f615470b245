"""tools/demo.py's summary: set rows come from the plain metric keys, not from the named scores' '<score>/<set>'."""
from conftest import load_tool


def test_set_names_skip_named_scores_and_groups():
    demo = load_tool('demo')
    metrics = {'digits 5-9/AUROC': 90.0, 'noise/AUROC': 92.0, 'near/AUROC': 90.0, 'mean/AUROC': 91.0,
               'ID/accuracy': 96.0, 'atd/digits 5-9/AUROC': 90.0, 'ctw/noise/AUROC': 92.0, 'mean/FPR95_id_closest': 5}
    assert demo.set_names_of(metrics) == ['ID', 'digits 5-9', 'noise']
    assert demo.fpr_convention(metrics) == ('id', 'closest')
    assert demo.parse_args([]).clipn and not demo.parse_args(['--no-clipn']).clipn
