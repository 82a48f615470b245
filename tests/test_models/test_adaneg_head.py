"""AdaNegHead: the stream rule (seeded permutation of each (ID, OOD set) pair, fresh memory per pair and seed),
the named scores and replicates, and the same metrics from a test run, from the feature cache and from 2 gloo
processes."""
import csv
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, load_tool, make_benchmark, run_command, tiny_backbone, tiny_pipeline, tiny_weights
from mmpretrain.registry import MODELS

from mmood.evaluation import OODMetric
from mmood.models.heads import AdaNegHead, HeadContext, build_method, score_pairs
from mmood.scores.adaneg import adaneg_stream_scores
from mmood.scores.neglabel import group_permutation
from mmood.utils.errors import ConfigError


@pytest.fixture(scope='module')
def tower():
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone())


def test_stream_rule_names_and_replicates(tower, corpus_dir, tmp_path):
    names = ['zero', 'one', 'two']
    id_text = tower.build_text_classifier(names, ['The nice {}.'])
    ctx = HeadContext(id_text=id_text, class_names=names, templates=['The nice {}.'], backbone=tower,
                      work_dir=str(tmp_path))
    head = AdaNegHead(mining=dict(corpus_dir=corpus_dir, num_neg=20), grouping=dict(ngroup=2),
                      stream=dict(batch_size=4, seeds=(0, 5)), memory=dict(memleng=3)).prepare(ctx)
    assert head.score_names == ('adaneg', 'adaneg_seed5', 'adaneg_sample', 'adaneg_sample_seed5')
    assert head.replicates == {'adaneg': ['adaneg', 'adaneg_seed5'],
                               'adaneg_sample': ['adaneg_sample', 'adaneg_sample_seed5']}
    assert len(head.neg_prompts) == 20 and head.neg_prompts[0].startswith('This is a ')  # adjectives first
    # features: ID images near the ID prototypes, OOD near negatives, so the memory is written both ways
    gen = torch.Generator().manual_seed(0)
    h = F.normalize(torch.cat([id_text[torch.arange(9) % 3] + 0.3 * torch.randn(9, id_text.shape[1], generator=gen),
                               head.neg_emb[:7] + 0.3 * torch.randn(7, id_text.shape[1], generator=gen),
                               torch.randn(5, id_text.shape[1], generator=gen)]), dim=-1)
    set_ids = np.array([0] * 9 + [1] * 7 + [2] * 5)
    out = score_pairs(head, {'global': h}, set_ids)
    labels = torch.cat([id_text, head.neg_emb])
    perm = group_permutation(20, 2, seed=0)
    for sid in (1, 2):
        members = np.flatnonzero((set_ids == 0) | (set_ids == sid))
        for name, proxy, seed in (('adaneg', 'task', 0), ('adaneg_seed5', 'task', 5),
                                  ('adaneg_sample', 'sample', 0), ('adaneg_sample_seed5', 'sample', 5)):
            order = torch.randperm(len(members), generator=torch.Generator().manual_seed(seed))
            direct = adaneg_stream_scores(h[members][order], labels, 3, 4, 100.0, 2, perm, proxies=proxy, memleng=3)
            want = np.empty(len(members))
            want[order.numpy()] = direct['score'].double().numpy()
            np.testing.assert_allclose(out[name][sid - 1, members], want, rtol=1e-6, atol=1e-7)
            assert np.isnan(out[name][sid - 1, set_ids == (3 - sid)]).all()
    assert not np.allclose(out['adaneg'][0, :9], out['adaneg_seed5'][0, :9])  # the stream order matters
    assert not np.allclose(out['adaneg'][0, :9], out['adaneg'][1, :9])  # an ID image: one score per pair
    metrics = OODMetric.calculate_named(out, 'adaneg', set_ids, ['ID', 'A', 'B'], replicates=head.replicates)
    aurocs = [metrics[f'{n}/mean/AUROC'] for n in ('adaneg', 'adaneg_seed5')]
    assert metrics['adaneg/seeds/mean/AUROC/mean'] == pytest.approx(np.mean(aurocs))
    assert metrics['adaneg/seeds/mean/AUROC/std'] == pytest.approx(np.std(aurocs))
    # tools/score.py --methods adaneg builds the same head
    method = build_method('adaneg', dict(mining=dict(corpus_dir=corpus_dir, num_neg=20), grouping=dict(ngroup=2),
                                         stream=dict(batch_size=4, seeds=(0, 5)), memory=dict(memleng=3),
                                         templates=['The nice {}.'])).prepare(ctx)
    np.testing.assert_array_equal(score_pairs(method, {'global': h}, set_ids)['adaneg'], out['adaneg'])


def test_option_dicts():
    """AdaNeg's defaults live in its option dicts; a dict names only what it changes; unknown keys are refused."""
    head = AdaNegHead(memory=dict(gamma=0.4), stream=dict(seeds=(3, )), lam=0.2)
    assert head.stream_cfg == dict(gamma=0.4, gap=0.5, lam=0.2, memleng=10, beta=5.0, full_capacity=False,
                                   replacement='entropy', score_before_update=False)
    assert (head.stream_seeds, head.stream_batch_size, head.ngroup, head.tau) == ((3, ), 256, 5, 0.01)
    assert head.mining_cfg['num_neg'] == 10000 and head.mining_cfg['exclude_id_names'] == 'exact'
    assert AdaNegHead(grouping=dict(seed=1)).ngroup == 5  # the other grouping defaults stay AdaNeg's
    with pytest.raises(ConfigError, match='"memlen" \\(did you mean "memleng"\\?\\) in AdaNegHead option `memory`'):
        AdaNegHead(memory=dict(memlen=3))
    with pytest.raises(ConfigError, match='stream.seeds must be distinct'):
        AdaNegHead(stream=dict(seeds=(1, 1)))


@pytest.fixture(scope='module')
def run(tmp_path_factory, corpus_dir):
    root = str(tmp_path_factory.mktemp('adaneg'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_per_class=4, n_ood=(6, 5))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    config = osp.join(root, 'adaneg_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/adaneg/adaneg_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'],
             head=dict(mining=dict(corpus_dir={corpus_dir!r}, num_neg=20), grouping=dict(ngroup=2),
                       stream=dict(batch_size=5)))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, pipeline={tiny_pipeline()!r},
                       **{ {k: v for k, v in dataset.items() if k != 'pipeline'}!r}))
''')
    cache, work = osp.join(root, 'cache'), osp.join(root, 'work')
    metrics = load_tool('test').main([config, '--work-dir', work, '--cache-dir', cache, '--save-features'])
    return dict(root=root, config=config, cache=cache, work=work, metrics=metrics)


def test_cache_and_two_processes_give_the_test_run(run):
    metrics = run['metrics']
    assert metrics['adaneg/seeds/count'] == 3 and 'adaneg_sample/seeds/mean/AUROC/std' in metrics
    assert 'adaneg/mean/FPR95_ood_first_ge' in metrics  # the reference's convention besides mmood's
    result = load_tool('score').main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'],
                                      '--methods', 'config', '--no-plots'])
    assert result['metrics'] == metrics  # every seed and proxy, key for key
    two = osp.join(run['root'], 'two')
    run_command(['bash', 'tools/dist_test.sh', run['config'], 'none', '2', '--work-dir', two, '--cache-dir',
                 run['cache']], port_env='PORT')
    (found, ) = glob.glob(osp.join(two, '*', 'metrics.json'))
    with open(found) as f:
        assert json.load(f)['metrics'] == metrics
    with open(osp.join(osp.dirname(found), 'per_sample_results.csv')) as f:
        rows2 = list(csv.DictReader(f))
    (one, ) = glob.glob(osp.join(run['work'], '2*', 'per_sample_results.csv'))
    with open(one) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(rows2) and list(rows[0]) == list(rows2[0])
    for a, b in zip(rows, rows2):  # the ranks encode other batches: float32 features agree to rounding
        assert a['path'] == b['path']
        for key in (k for k in a if k.startswith('score_adaneg')):
            assert (a[key] == '') == (b[key] == '')  # the same pairs
            assert float(a[key] or 0) == pytest.approx(float(b[key] or 0), rel=1e-4, abs=1e-6), key
