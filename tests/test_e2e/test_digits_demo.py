"""End to end, offline: train the tiny CLIP on digits 0-4 (tools/train.py), export its weights
(tools/export_clip_weights.py), and detect held-out digits 5-9 and noise (tools/test.py), in one process and
under 2 gloo processes (tools/dist_test.sh), which must agree.

The digits CLIP is the session's (conftest.py `digits_clip`: 10 of the config's 40 epochs). Observed with it
(MCM, tau = 0.1), seeds 0 / 1 / 2 / 3 / 4:
  ID accuracy          93.4 / 95.9 / 95.9 / 92.6 / 96.7 %   -> range 92.6-96.7
  AUROC digits 5-9     81.0 / 80.3 / 79.6 / 85.6 / 79.3 %   -> range 79.3-85.6
  AUROC noise          83.7 / 77.8 / 82.8 / 79.9 / 88.5 %   -> range 77.8-88.5
Chance is 20 % accuracy and 50 % AUROC; a sign flip of the score puts AUROC near 20, a class-order or label
mix-up puts the accuracy near chance, so the bounds below (10-13 points under the observed minima) catch them.
"""
import csv
import glob
import json
import os.path as osp

import pytest
from conftest import run_command, run_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MIN_ACCURACY = 80.0
MIN_AUROC_DIGITS = 70.0
MIN_AUROC_NOISE = 65.0


def _results(work_dir):
    """(metrics, per-sample rows) of the single run under ``work_dir``."""
    found = glob.glob(osp.join(work_dir, '*', 'metrics.json'))
    assert len(found) == 1, found
    with open(found[0]) as f:
        metrics = json.load(f)['metrics']
    with open(osp.join(osp.dirname(found[0]), 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    return metrics, rows


def _test_args(trained, work_dir):
    return ['--work-dir', work_dir, '--cache-dir', trained['cache'], '--cfg-options',
            f'model.backbone.pretrained={trained["weights"]}']


def test_mcm_detects_unseen_digits_and_matches_ddp(digits_clip):
    trained = digits_clip
    config = osp.join(REPO, 'configs', 'mcm', 'mcm_tiny_digits.py')
    root = trained['root']
    single_dir = str(root / 'mcm_single')
    run_tool('test', [config] + _test_args(trained, single_dir))
    metrics, rows = _results(single_dir)
    assert metrics['ID/accuracy'] > MIN_ACCURACY, metrics
    assert metrics['digits 5-9/AUROC'] > MIN_AUROC_DIGITS, metrics
    assert metrics['noise/AUROC'] > MIN_AUROC_NOISE, metrics
    assert metrics['near/AUROC'] == metrics['digits 5-9/AUROC'] and metrics['far/AUROC'] == metrics['noise/AUROC']
    assert [r['set'] for r in rows].count('digits 0-4') == 271 and len(rows) == 271 + 269 + 200

    dist_dir = str(root / 'mcm_dist')
    run_command(['bash', osp.join(REPO, 'tools', 'dist_test.sh'), config, 'none', '2'] +
                _test_args(trained, dist_dir), cwd=str(root), port_env='PORT')
    dist_metrics, dist_rows = _results(dist_dir)
    assert list(dist_metrics) == list(metrics)
    for key, value in metrics.items():
        assert dist_metrics[key] == pytest.approx(value, abs=1e-6), key
    assert len(dist_rows) == len(rows)
    for a, b in zip(rows, dist_rows):
        assert {k: v for k, v in a.items() if k != 'ood_score'} == {k: v for k, v in b.items() if k != 'ood_score'}
        assert float(a['ood_score']) == pytest.approx(float(b['ood_score']), rel=1e-5, abs=1e-7)
