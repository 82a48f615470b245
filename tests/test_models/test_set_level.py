"""Set-level heads: a head whose score of a sample depends on the other samples of its (ID, OOD set) pair is
scored once per pair, after gathering, by tools/test.py (through SetLevelScoresHook) and tools/score.py alike."""
import csv
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_weights
from mmpretrain.registry import MODELS

from mmood.evaluation import OODMetric, metrics_of
from mmood.models.heads import BaseOODHead, HeadContext, pair_stream, score_pairs


@MODELS.register_module(force=True)
class PairMeanHead(BaseOODHead):
    """Test head: the cosine of each sample to the mean feature of the stream it is scored in."""
    set_level = True

    def __init__(self, stream_seed=None, **kwargs):
        super().__init__(**kwargs)
        self.score_names = ('pair_mean', )
        self.stream_seed = stream_seed

    def forward(self, feats):
        h = feats['global']
        return self.named(pair_mean=h @ F.normalize(h.mean(0), dim=0))


def manual_pairs(h, set_ids):
    out = np.full((int(set_ids.max()), len(set_ids)), np.nan)
    for sid in range(1, int(set_ids.max()) + 1):
        members = (set_ids == 0) | (set_ids == sid)
        mean = F.normalize(h[torch.from_numpy(members)].mean(0), dim=0)
        out[sid - 1, members] = (h[torch.from_numpy(members)] @ mean).double().numpy()
    return out


def test_score_pairs_and_stream_order():
    gen = torch.Generator().manual_seed(0)
    h = F.normalize(torch.randn(11, 6, generator=gen), dim=-1)
    set_ids = np.array([0] * 5 + [1] * 3 + [2] * 3)
    head = PairMeanHead().prepare(HeadContext(id_text=torch.zeros(2, 6)))
    out = score_pairs(head, {'global': h}, set_ids)
    np.testing.assert_allclose(out['pair_mean'], manual_pairs(h, set_ids), rtol=1e-6)
    assert not np.allclose(out['pair_mean'][0, :5], out['pair_mean'][1, :5])  # an ID image: one score per pair
    assert pair_stream(set_ids, 2).tolist() == [0, 1, 2, 3, 4, 8, 9, 10]
    shuffled = pair_stream(set_ids, 2, seed=3)
    assert sorted(shuffled.tolist()) == [0, 1, 2, 3, 4, 8, 9, 10] and shuffled.tolist() != [0, 1, 2, 3, 4, 8, 9, 10]
    seeded = score_pairs(PairMeanHead(stream_seed=3).prepare(HeadContext(id_text=torch.zeros(2, 6))),
                         {'global': h}, set_ids)  # a mean does not depend on the order
    np.testing.assert_allclose(seeded['pair_mean'], out['pair_mean'], rtol=1e-5, atol=1e-7)


class SeededPairHead(PairMeanHead):
    """Test head: ``pair_mean``, and ``pair_mean_seed1`` that also depends on the stream order (a replicate)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.score_names = ('pair_mean', 'pair_mean_seed1')
        self.replicates = {'pair_mean': ['pair_mean', 'pair_mean_seed1']}

    def forward(self, feats):
        h = feats['global']
        mean = h @ F.normalize(h.mean(0), dim=0)
        return self.named(pair_mean=mean, pair_mean_seed1=mean + 0.05 * torch.linspace(-1, 1, h.shape[0]))


def test_replicates_of_a_set_level_head():
    gen = torch.Generator().manual_seed(1)
    h = F.normalize(torch.randn(14, 6, generator=gen), dim=-1)
    set_ids = np.array([0] * 6 + [1] * 4 + [2] * 4)
    head = SeededPairHead(stream_seed=2, prefix='x_').prepare(HeadContext(id_text=torch.zeros(2, 6)))
    assert head.replicates == {'x_pair_mean': ['x_pair_mean', 'x_pair_mean_seed1']}  # named as the scores
    assert PairMeanHead().replicates == {}
    scores = score_pairs(head, {'global': h}, set_ids)
    names = ('ID', 'a', 'b')
    out = OODMetric.calculate_named(scores, 'x_pair_mean', set_ids, names, replicates=head.replicates)
    aurocs = [OODMetric.calculate(scores[n], set_ids, names)['mean/AUROC'] for n in head.score_names]
    assert out['x_pair_mean/seeds/mean/AUROC/mean'] == pytest.approx(np.mean(aurocs))
    assert out['x_pair_mean/seeds/mean/AUROC/std'] == pytest.approx(np.std(aurocs))
    assert out['x_pair_mean/seeds/count'] == 2 and not any('/near/' in k or '/far/' in k for k in out)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('set_level'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    config = osp.join(root, 'pair_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'],
             extra_heads=[dict(type='PairMeanHead')])
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
''')
    cache, work = osp.join(root, 'cache'), osp.join(root, 'work')
    metrics = load_tool('test').main([config, '--work-dir', work, '--cache-dir', cache, '--save-features'])
    log_dir = sorted(glob.glob(osp.join(work, '2*')))[-1]
    return dict(config=config, cache=cache, work=work, metrics=metrics, log_dir=log_dir)


def test_test_run_scores_pairs(run):
    from mmood.features import load_eval_split, model_identity
    from mmood.cache import CacheStore
    from mmengine.config import Config
    cfg = Config.fromfile(run['config'])
    model = MODELS.build(dict(cfg.model.to_dict(), cache_dir=run['cache']))
    split = load_eval_split(cfg, model_identity(model), CacheStore(run['cache']), ['global'])
    h = torch.from_numpy(split.rows('global', 0, len(split)))
    pairs = manual_pairs(h, split.set_ids)
    direct = OODMetric.calculate(pairs, split.set_ids, split.set_names, split.set_groups)
    got = metrics_of(run['metrics'], 'pair_mean')
    for key, value in direct.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    assert run['metrics']['mean/AUROC'] == run['metrics']['mcm/mean/AUROC']  # the primary stays MCM
    with open(osp.join(run['log_dir'], 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    for sid, name in ((1, 'Noise'), (2, 'Flat')):
        column = [r[f'score_pair_mean@{name}'] for r in rows]
        members = (split.set_ids == 0) | (split.set_ids == sid)
        assert all((c == '') != bool(m) for c, m in zip(column, members))  # empty outside the pair
        np.testing.assert_allclose([float(c) for c in column if c], pairs[sid - 1, members], rtol=1e-5)
    with open(osp.join(run['log_dir'], 'report.md')) as f:
        assert '### pair_mean' in f.read()
    with open(osp.join(run['log_dir'], 'metrics.json')) as f:
        assert json.load(f)['score_names'] == ['mcm', 'pair_mean']  # extra_heads replaced the base's


def test_score_py_scores_pairs_like_the_test_run(run):
    result = load_tool('score').main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'],
                                      '--methods', 'config', '--no-plots'])
    assert result['metrics'] == run['metrics']  # set-level scores included, key for key
    assert result['table'].scores['pair_mean'].shape == (2, 18)
