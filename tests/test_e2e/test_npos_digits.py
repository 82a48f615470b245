"""NPOS end to end on the digits demo's tiny CLIP (configs/npos/npos_tiny_digits.py): tools/train.py on cached trunk
tokens fills the queues, starts synthesis at start_iter and lowers the outlier loss; a run killed with no cleanup and
resumed ends with the weights, queues and synthesis step of an uninterrupted one; tools/test.py detects digits 5-9
and noise with `mcm` and `outlier`; 2 gloo processes evaluate like 1; 2 gloo ranks training on different batches
keep identical queues and draw identical outliers.

Observed with the session's digits CLIP (10 epochs) over NPOS training seeds 0-2 (randomness.seed and
model.synthesis.seed), AUROC digits 5-9 / noise: mcm 80.7-82.4 / 79.8-81.6, outlier 73.2-78.4 / 84.3-94.3 (the demo's
40-epoch CLIP: docs/npos.md). The bounds sit 12-13 points under the minima; chance is 50 and a sign flip puts the
score far below it.
"""
import glob
import os
import os.path as osp
import re

import pytest
import torch
from conftest import (REPO, assert_two_processes_agree, gloo_group, kill_and_resume, run_results, run_tool,
                      spawn_with_port, tiny_backbone)

CONFIG = osp.join(REPO, 'configs', 'npos', 'npos_tiny_digits.py')
ITERS = 400
START = 100
MIN_AUROC = {'mcm': 68.0, 'outlier': 60.0}  # over digits 5-9 and noise each
MIN_ACCURACY = 85.0


def state(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def trained(digits_clip, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('npos_digits'))
    options = [f'model.backbone.pretrained={digits_clip["weights"]}', 'default_hooks.logger.interval=50']
    common = ['--cache-dir', digits_clip['cache'], '--cfg-options', *options]
    work = osp.join(root, 'train')
    run_tool('train', [CONFIG, '--work-dir', work, *common], threads=1)  # as the killed run's process
    return dict(root=root, work=work, common=common, options=options, cache=digits_clip['cache'],
                checkpoint=osp.join(work, f'iter_{ITERS}.pth'))


def test_training_synthesises_after_start_and_resumes_exactly(trained):
    with open(glob.glob(osp.join(trained['work'], '2*', '2*.log'))[-1]) as f:
        log = f.read()
    outliers = [float(v) for v in re.findall(r' outliers: ([0-9.]+)', log)]
    reg = [float(v) for v in re.findall(r' loss_reg: ([0-9.]+)', log)]
    assert outliers[0] == 0 and reg[0] == 0 and outliers[-1] == 5 * 2 * 2  # classes x picks x keep, after START
    assert reg[-1] < 0.5 * max(reg), reg  # the outlier MLP learns to separate them
    done = state(trained['checkpoint'])
    assert int(done['iteration']) == ITERS and int(done['synthesis.step']) == ITERS - START
    assert done['synthesis.count'].tolist() == [64] * 5
    assert not any(k.startswith('backbone.clip.transformer') for k in done)  # the frozen text tower is not saved
    assert {k for k in done if k.startswith('backbone.')} == {
        k for k in done if k.startswith(('backbone.clip.visual.transformer.resblocks', 'backbone.clip.visual.ln_post',
                                         'backbone.clip.visual.proj'))}

    # killed (os._exit(9), no cleanup) at iteration 300, after its checkpoint at 200, then resumed
    resumed = osp.join(trained['root'], 'resumed')
    os.makedirs(resumed)
    again = state(kill_and_resume(trained['root'], CONFIG, resumed, trained['common'], 300, 200, ITERS))
    assert list(again) == list(done)
    for key in done:  # one intra-op thread in all three processes; equal up to float summation order
        torch.testing.assert_close(again[key], done[key], rtol=1e-5, atol=1e-6, msg=key)


def test_detects_unseen_digits_and_two_processes_agree(trained):
    args = [trained['checkpoint'], '--cache-dir', trained['cache'], '--cfg-options', *trained['options']]
    one = osp.join(trained['root'], 'one')
    run_tool('test', [CONFIG, args[0], '--work-dir', one, *args[1:]])
    metrics, rows = run_results(one)
    print({k: round(v, 2) for k, v in metrics.items() if k.endswith('/AUROC') and 'mean' not in k})
    assert metrics['ID/accuracy'] > MIN_ACCURACY, metrics
    for score, bound in MIN_AUROC.items():
        for name in ('digits 5-9', 'noise'):
            assert metrics[f'{score}/{name}/AUROC'] > bound, (score, name, metrics)
    assert metrics['digits 5-9/AUROC'] == metrics['mcm/digits 5-9/AUROC']  # mcm is the primary score
    assert {'score_mcm', 'score_outlier', 'score_energy'} <= set(rows[0]) and len(rows) == 271 + 269 + 200
    assert_two_processes_agree(CONFIG, args, one, osp.join(trained['root'], 'two'), 'outlier', abs_tol=1e-5)


def _rank_worker(rank, port, out):
    from mmpretrain.registry import MODELS
    with gloo_group(rank, port, 2):
        torch.manual_seed(0)  # the same initial weights on both ranks
        model = MODELS.build(dict(type='NPOSClassifier', backbone=tiny_backbone(trainable_blocks=2, frozen=False),
                                  class_names=['zero', 'one', 'two'], templates=['a photo of a {}.'],
                                  synthesis=dict(type='NPOSOutlierSynthesis', queue_size=4, k=2, select=3, picks=2,
                                                 num_draws=8, keep=1)))
        model.train()
        gen = torch.Generator().manual_seed(100 + rank)  # each rank its own batches
        drawn = []
        for _ in range(4):
            images = torch.randn(6, 3, 32, 32, generator=gen)
            labels = torch.randint(0, 3, (6, ), generator=gen)
            model.loss(images, labels)
            drawn.append(model.synthesis.sample()[0])
        torch.save(dict(state={k: v for k, v in model.state_dict().items() if k.startswith('synthesis.')},
                        drawn=drawn), osp.join(out, f'rank{rank}.pt'))


def test_two_ranks_keep_identical_queues(tmp_path):
    spawn_with_port(_rank_worker, 2, (str(tmp_path), ))
    a, b = (torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in (0, 1))
    assert int(a['state']['synthesis.count'].sum()) == 12  # every queue filled from the gathered batches
    for key in a['state']:
        assert torch.equal(a['state'][key], b['state'][key]), key
    assert all(torch.equal(x, y) for x, y in zip(a['drawn'], b['drawn'])) and a['drawn'][-1].numel()
