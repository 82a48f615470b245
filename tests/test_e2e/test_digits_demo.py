"""End to end, offline: train the tiny CLIP on digits 0-4 (tools/train.py), export its weights
(tools/export_clip_weights.py), and detect held-out digits 5-9 and noise (tools/test.py), in one process and
under 2 gloo processes (tools/dist_test.sh), which must agree.

A shortened schedule (10 of the config's 40 epochs) keeps the file near a minute on 2 cores. Observed with it
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
import os
import os.path as osp
import subprocess
import sys

import pytest
from conftest import load_tool, run_command

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEED = 0
EPOCHS = 10
SHORT_TRAIN = [f'train_cfg.max_epochs={EPOCHS}', f'train_cfg.val_interval={EPOCHS}', f'param_scheduler.1.end={EPOCHS}',
               f'default_hooks.checkpoint.interval={EPOCHS}', f'randomness.seed={SEED}']
MIN_ACCURACY = 80.0
MIN_AUROC_DIGITS = 70.0
MIN_AUROC_NOISE = 65.0


def _env():
    env = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')
    env['PYTHONPATH'] = REPO + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    return env


def _run(cmd, cwd, env=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{proc.stdout[-4000:]}'
    return proc.stdout


def _results(work_dir):
    """(metrics, per-sample rows) of the single run under ``work_dir``."""
    found = glob.glob(osp.join(work_dir, '*', 'metrics.json'))
    assert len(found) == 1, found
    with open(found[0]) as f:
        metrics = json.load(f)['metrics']
    with open(osp.join(osp.dirname(found[0]), 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    return metrics, rows


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train the short variant once and export its open_clip weights."""
    root = tmp_path_factory.mktemp('digits_e2e')
    cache = str(root / 'cache')
    train_dir = str(root / 'train')
    _run([sys.executable, osp.join(REPO, 'tools', 'train.py'), osp.join(REPO, 'configs', 'clip_tiny_digits.py'),
          '--work-dir', train_dir, '--cache-dir', cache, '--cfg-options'] + SHORT_TRAIN, cwd=str(root))
    weights = str(root / 'clip_tiny_digits.pth')
    load_tool('export_clip_weights').main([train_dir, weights])  # a work dir: its last_checkpoint
    return dict(root=root, cache=cache, weights=weights)


def _test_args(trained, work_dir):
    return ['--work-dir', work_dir, '--cache-dir', trained['cache'], '--cfg-options',
            f'model.backbone.pretrained={trained["weights"]}']


def test_mcm_detects_unseen_digits_and_matches_ddp(trained):
    config = osp.join(REPO, 'configs', 'mcm_tiny_digits.py')
    root = trained['root']
    single_dir = str(root / 'mcm_single')
    _run([sys.executable, osp.join(REPO, 'tools', 'test.py'), config] + _test_args(trained, single_dir),
         cwd=str(root))
    metrics, rows = _results(single_dir)
    assert metrics['ID/accuracy'] > MIN_ACCURACY, metrics
    assert metrics['digits 5-9/AUROC'] > MIN_AUROC_DIGITS, metrics
    assert metrics['noise/AUROC'] > MIN_AUROC_NOISE, metrics
    assert metrics['near/AUROC'] == metrics['digits 5-9/AUROC'] and metrics['far/AUROC'] == metrics['noise/AUROC']
    assert [r['set'] for r in rows].count('digits 0-4') == 271 and len(rows) == 271 + 269 + 200

    dist_dir = str(root / 'mcm_dist')
    run_command(['bash', osp.join(REPO, 'tools', 'dist_test.sh'), config, 'none', '2'] +
                _test_args(trained, dist_dir), env=_env(), cwd=str(root), port_env='PORT')
    dist_metrics, dist_rows = _results(dist_dir)
    assert list(dist_metrics) == list(metrics)
    for key, value in metrics.items():
        assert dist_metrics[key] == pytest.approx(value, abs=1e-6), key
    assert len(dist_rows) == len(rows)
    for a, b in zip(rows, dist_rows):
        assert {k: v for k, v in a.items() if k != 'ood_score'} == {k: v for k, v in b.items() if k != 'ood_score'}
        assert float(a['ood_score']) == pytest.approx(float(b['ood_score']), rel=1e-5, abs=1e-7)
