"""tools/test.py end to end on the tiny tower and generated folders; 1 vs 2 processes; vs a direct computation.

Every named score of the run (the method's, plus MSP / MaxLogit / Energy of the same logits) is checked against a
computation outside the Runner, in metrics.json, in the per-sample CSV and in the report."""
import csv
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import config_path, make_benchmark, make_corpus, run_command, run_tool, tiny_backbone, tiny_weights
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS

from mmood.evaluation import OODMetric
from mmood.scores import energy_score, maxlogit_score, msp_score

SCORES = dict(neglabel=['neglabel', 'msp', 'maxlogit', 'energy'],
              glmcm=['glmcm', 'mcm', 'local_mcm', 'msp', 'maxlogit', 'energy'])
METRIC_KEYS = ('AUROC', 'FPR95_id_closest', 'AUPR_IN', 'AUPR_OUT')
ROWS = ('Noise', 'Flat', 'near', 'far', 'mean')


def run(cmd, env=None, port_env=None):
    return run_command(cmd, env=env, port_env=port_env)


def read_run(work_dir):
    log_dir = sorted(glob.glob(osp.join(work_dir, '2*')))[-1]
    with open(osp.join(log_dir, 'metrics.json')) as f:
        metrics = json.load(f)['metrics']
    with open(osp.join(log_dir, 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    return log_dir, metrics, rows


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('e2e'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 4))  # 9 + 4 + 4 = 17 samples: odd
    corpus = make_corpus(osp.join(root, 'corpus'))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    configs = {}
    for method, head in (('neglabel', dict(mining=dict(corpus_dir=corpus, neg_ratio=0.3), grouping=dict(ngroup=2))),
                         ('glmcm', dict())):
        cfg = f'''_base_ = ['{config_path(f'{method}_vitb16')}']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}),
             class_names=['zero', 'one', 'two'], head=dict(**{head!r}))
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
'''
        path = osp.join(root, f'{method}_tiny.py')
        with open(path, 'w') as f:
            f.write(cfg)
        configs[method] = path
    return root, configs


def direct_scores(config, cache_dir):
    """The same model and data, outside the Runner: every named score per sample, plus the logits."""
    cfg = Config.fromfile(config)
    model = MODELS.build(dict(cfg.model.to_dict(), cache_dir=cache_dir))
    model.eval()
    model.prepare()
    ds = DATASETS.build(cfg.test_dataloader.dataset.to_dict())
    scores, preds, logits = {}, [], []
    for start in range(0, len(ds), 5):
        batch = model.data_preprocessor(pseudo_collate([ds[i] for i in range(start, min(start + 5, len(ds)))]))
        with torch.no_grad():
            logits.append(model.class_logits(model.extract_feat(batch['inputs'])))
        for s in model(batch['inputs'], batch['data_samples'], mode='predict'):
            for name, value in s.ood_scores.items():
                scores.setdefault(name, []).append(float(value))
            assert float(s.ood_score) == scores[model.primary_score][-1]
            preds.append(int(s.pred_label))
    info = [ds.get_data_info(i) for i in range(len(ds))]
    return ({k: np.array(v) for k, v in scores.items()}, torch.cat(logits), np.array([i['set_id'] for i in info]),
            np.array([i['gt_label'] for i in info]), np.array(preds), ds.metainfo)


@pytest.mark.parametrize('method', ['neglabel', 'glmcm'])
def test_tools_test_matches_direct(setup, method):
    root, configs = setup
    work, cache = osp.join(root, f'work_{method}'), osp.join(root, 'cache')
    returned = run_tool('test', [configs[method], '--work-dir', work, '--cache-dir', cache])
    log_dir, metrics, rows = read_run(work)
    assert returned == pytest.approx(metrics, abs=1e-9)
    assert len(rows) == 17 and [int(r['index']) for r in rows] == list(range(17))
    names = SCORES[method]
    expected_keys = {f'{s}/{k}' for s in ROWS for k in METRIC_KEYS} | {'ID/accuracy'}
    expected_keys |= {f'{n}/{s}/{k}' for n in names for s in ROWS for k in METRIC_KEYS}
    assert set(metrics) == expected_keys
    assert all(0.0 <= v <= 100.0 for v in metrics.values())
    scores, logits, set_ids, labels, preds, meta = direct_scores(configs[method], cache)
    assert list(scores) == names  # the method's score first (primary), then the extra head's
    # the baselines are the score functions of the zero-shot logits (scale 100)
    np.testing.assert_allclose(scores['msp'], msp_score(logits).numpy(), rtol=1e-6)
    np.testing.assert_allclose(scores['maxlogit'], maxlogit_score(logits).numpy(), rtol=1e-6)
    np.testing.assert_allclose(scores['energy'], energy_score(logits).numpy(), rtol=1e-6)
    if method == 'glmcm':
        np.testing.assert_allclose(scores['glmcm'], scores['mcm'] + 0.5 * scores['local_mcm'], rtol=1e-6)
    np.testing.assert_allclose([float(r['ood_score']) for r in rows], scores[names[0]], rtol=1e-5, atol=1e-7)
    for name in names:
        np.testing.assert_allclose([float(r[f'score_{name}']) for r in rows], scores[name], rtol=1e-5, atol=1e-7)
    assert [int(r['prediction']) for r in rows] == preds.tolist()
    assert [r['set'] for r in rows] == [meta['set_names'][i] for i in set_ids]
    assert [int(r['is_ood']) for r in rows] == [int(i > 0) for i in set_ids]
    for name in names:
        direct = OODMetric.calculate(scores[name], set_ids, meta['set_names'], meta['set_groups'], labels, preds)
        for k, v in direct.items():
            key = k if k == 'ID/accuracy' else f'{name}/{k}'
            assert metrics[key] == pytest.approx(v, abs=1e-6), key
            if name == names[0]:  # the primary score also under the plain keys
                assert metrics[k] == metrics[key if k != 'ID/accuracy' else k]
    with open(osp.join(log_dir, 'report.md')) as f:
        report = f.read()
    assert all(f'### {name}' in report for name in names) and f'primary score: {names[0]}' in report
    assert osp.isfile(osp.join(log_dir, f'roc_{names[0]}.png'))
    with open(osp.join(log_dir, 'metrics.json')) as f:
        record = json.load(f)
    assert record['primary_score'] == names[0] and record['score_names'] == names
    assert record['set_names'] == ['TinyID', 'Noise', 'Flat']
    if method == 'neglabel':
        with open(osp.join(log_dir, 'neglabel_negatives.txt')) as f:
            words = f.read().splitlines()
        assert len(words) == int(41 * 0.3) + int(12 * 0.3)
        assert words[0].startswith('the nice ') and words[-1].startswith('This is a ')


def test_two_processes_equal_one(setup):
    root, configs = setup
    cache = osp.join(root, 'cache')
    one = osp.join(root, 'work_1p')
    run_tool('test', [configs['neglabel'], '--work-dir', one, '--cache-dir', cache])
    two = osp.join(root, 'work_2p')
    out = run(['bash', 'tools/dist_test.sh', configs['neglabel'], '2', '--work-dir', two, '--cache-dir', cache],
              port_env='PORT')
    assert 'mined' not in out.split('NegLabelHead:')[1].split('\n')[0]  # negatives came from the shared cache
    _, m1, r1 = read_run(one)
    _, m2, r2 = read_run(two)
    assert len(r2) == 17  # sampler padding dropped
    assert [r['path'] for r in r1] == [r['path'] for r in r2]
    for column in ['ood_score'] + [f'score_{n}' for n in SCORES['neglabel']]:
        np.testing.assert_allclose([float(r[column]) for r in r1], [float(r[column]) for r in r2], rtol=1e-6)
    assert m1.keys() == m2.keys()
    for k in m1:
        assert m1[k] == pytest.approx(m2[k], abs=1e-9), k
