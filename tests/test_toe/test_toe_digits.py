"""TOE end to end on the digits demo's tiny CLIP: tools/toe/make_outliers.py writes the word-level list (WordNet
window of a small corpus), tools/train.py trains on cached features and lowers the loss, a resumed run ends with the
weights and the outlier-draw state of an uninterrupted one, tools/test.py detects digits 5-9 and noise, and 2 gloo
processes (tools/dist_test.sh) give the same metrics and per-sample scores."""
import csv
import glob
import json
import os
import os.path as osp
import re
import shutil

import pytest
import torch
from conftest import REPO, run_command, run_tool

from mmood.text import read_outlier_header, read_outlier_list

CONFIG = osp.join(REPO, 'configs', 'toe_word_tiny_digits.py')
# 40 corpus nouns + the ID name "zero" (removed) -> 40 outliers: 2 batches per epoch (32 + 8), 100 epochs = 200 steps
ITERS = 200
MIN_AUROC_DIGITS = 70.0  # measured 78-86 over seeds 0-4 (docs/toe.md); chance is 50
MIN_AUROC_NOISE = 70.0
MIN_ACCURACY = 85.0


def results(work_dir):
    (found, ) = glob.glob(osp.join(work_dir, '*', 'metrics.json'))
    with open(found) as f:
        metrics = json.load(f)['metrics']
    with open(osp.join(osp.dirname(found), 'per_sample_results.csv')) as f:
        return metrics, list(csv.DictReader(f))


def losses(log_dir):
    with open(glob.glob(osp.join(log_dir, '2*', '2*.log'))[-1]) as f:
        return [float(v) for v in re.findall(r' loss: ([0-9.]+)', f.read())]


def head_state(path):
    state = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    return {k: v for k, v in state.items() if k.startswith('head.') or k == 'outlier_step'}


@pytest.fixture(scope='module')
def trained(digits_clip, corpus_dir, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toe_digits'))
    options = [f'model.backbone.pretrained={digits_clip["weights"]}', f'model.outliers.corpus={corpus_dir}',
               'model.outliers.window=(0.0,100.0)', 'train_cfg.epochs=100', 'default_hooks.checkpoint.interval=100',
               'default_hooks.checkpoint.max_keep_ckpts=2', 'default_hooks.logger.interval=20']
    work = osp.join(root, 'train')
    common = ['--cache-dir', digits_clip['cache'], '--cfg-options', *options]
    texts = run_tool('toe/make_outliers', [CONFIG, '--work-dir', work, *common])
    listed = osp.join(work, 'toe_outliers_word.txt')
    assert read_outlier_list(listed) == texts and len(texts) == 40
    assert 'This is a photo of a thing0' in texts and 'This is a photo of a zero' not in texts  # ID name removed
    assert read_outlier_header(listed)['level'] == 'word'
    run_tool('train', [CONFIG, '--work-dir', work, *common])
    return dict(root=root, work=work, common=common, cache=digits_clip['cache'], options=options,
                checkpoint=osp.join(work, f'iter_{ITERS}.pth'))


def test_training_reads_the_list_lowers_the_loss_and_resumes_exactly(trained):
    with open(glob.glob(osp.join(trained['work'], '2*', '2*.log'))[-1]) as f:
        log = f.read()
    assert '40 word-level outliers read from' in log and 'Extracting' in log  # the list of make_outliers.py
    assert f'Training 100 epochs of 2 iterations = {ITERS} iterations' in log
    curve = losses(trained['work'])
    assert len(curve) == ITERS // 20 and curve[-1] < 0.7 * curve[0], curve
    done = head_state(trained['checkpoint'])
    assert int(done['outlier_step']) == ITERS

    # the same run interrupted after its checkpoint at iteration 100, resumed: same head, same outlier draws
    resumed = osp.join(trained['root'], 'resumed')
    os.makedirs(resumed)
    shutil.copy(osp.join(trained['work'], 'iter_100.pth'), resumed)
    shutil.copy(osp.join(trained['work'], 'toe_outliers_word.txt'), resumed)
    with open(osp.join(resumed, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(resumed, 'iter_100.pth'))
    run_tool('train', [CONFIG, '--work-dir', resumed, '--resume', *trained['common']])
    again = head_state(osp.join(resumed, f'iter_{ITERS}.pth'))
    assert list(again) == list(done)
    for key in done:
        assert torch.equal(again[key], done[key]), key
    # and the draws matter: a run with another outlier seed ends elsewhere
    other = osp.join(trained['root'], 'other_seed')
    os.makedirs(other)
    shutil.copy(osp.join(trained['work'], 'toe_outliers_word.txt'), other)
    run_tool('train', [CONFIG, '--work-dir', other, *trained['common'], 'model.seed=7'])
    assert not torch.equal(head_state(osp.join(other, f'iter_{ITERS}.pth'))['head.fc.weight'], done['head.fc.weight'])


def test_detects_unseen_digits_and_two_processes_agree(trained):
    args = [trained['checkpoint'], '--cache-dir', trained['cache'], '--cfg-options', *trained['options']]
    one = osp.join(trained['root'], 'one')
    assert run_tool('test', [CONFIG, args[0], '--work-dir', one, *args[1:]])
    metrics, rows = results(one)
    assert metrics['ID/accuracy'] > MIN_ACCURACY, metrics
    assert metrics['digits 5-9/AUROC'] > MIN_AUROC_DIGITS and metrics['noise/AUROC'] > MIN_AUROC_NOISE, metrics
    assert metrics['digits 5-9/AUROC'] == metrics['toe_energy/digits 5-9/AUROC']  # energy is the primary score
    assert {'score_toe_energy', 'score_toe_msp', 'score_toe_maxlogit'} <= set(rows[0])
    assert len(rows) == 271 + 269 + 200

    two = osp.join(trained['root'], 'two')
    run_command(['bash', 'tools/dist_test.sh', CONFIG, args[0], '2', '--work-dir', two, *args[1:]], port_env='PORT')
    metrics2, rows2 = results(two)
    assert list(metrics2) == list(metrics)
    for key, value in metrics.items():
        assert metrics2[key] == pytest.approx(value, abs=1e-6), key
    for a, b in zip(rows, rows2):
        assert a['path'] == b['path']
        assert float(a['score_toe_energy']) == pytest.approx(float(b['score_toe_energy']), abs=1e-5)
