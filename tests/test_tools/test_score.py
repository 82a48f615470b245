"""tools/test.py --save-features, then tools/score.py on the cache: exact metrics, reports, plots, errors."""
import csv
import glob
import io
import json
import os.path as osp
import sys

import numpy as np
import pytest
from conftest import REPO, load_tool, make_benchmark, run_tool, tiny_backbone, tiny_weights
from PIL import Image

from mmood.evaluation import metrics_of
from mmood.evaluation.report import safe_name

TEST_SCORES = ['mcm', 'msp', 'maxlogit', 'energy']  # MCM config: the method, then the baselines of its logits


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """One tools/test.py run with --save-features (in this process) on the tiny tower and generated folders."""
    root = str(tmp_path_factory.mktemp('score'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    id_train = dict(type='CustomDataset', data_root=osp.join(root, 'bench', 'id'), pipeline=dataset['pipeline'])
    config = osp.join(root, 'mcm_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'])
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
id_train_dataloader = dict(batch_size=4, num_workers=0, dataset={id_train!r})
''')
    cache, work = osp.join(root, 'cache'), osp.join(root, 'work')
    run_tool('test', [config, '--work-dir', work, '--cache-dir', cache, '--save-features'])
    log_dir = sorted(glob.glob(osp.join(work, '2*')))[-1]
    with open(osp.join(log_dir, 'metrics.json')) as f:
        metrics = json.load(f)['metrics']
    return dict(root=root, config=config, cache=cache, work=work, log_dir=log_dir, metrics=metrics)


def read_report_csv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    header = [line for line in lines if line.startswith('#')]
    rows = list(csv.DictReader(line for line in lines if not line.startswith('#')))
    return header, rows


def check_report(log_dir, methods, metrics_by_method, printed=None):
    header, rows = read_report_csv(osp.join(log_dir, 'report.csv'))
    assert any('near-OOD: Flat' in h and 'far-OOD: Noise' in h and 'ID: TinyID' in h for h in header)
    assert any('FPR95_id_closest' in h and 'ID positive' in h and 'closest' in h for h in header)
    assert len(rows) == len(methods) * 5  # 2 OOD sets + near / far / all means
    for row in rows:
        m = metrics_by_method[row['method']]
        prefix = {'all': 'mean'}.get(row['set'], row['set'])
        for col, key in (('AUROC', 'AUROC'), ('FPR95_id_closest', 'FPR95_id_closest'), ('AUPR_IN', 'AUPR_IN'),
                         ('AUPR_OUT', 'AUPR_OUT')):
            assert float(row[col]) == m[f'{prefix}/{key}']
        assert float(row['ID_accuracy']) == m['ID/accuracy']
        if printed is not None:  # the printed table shows the same numbers, rounded
            line = next(line for line in printed.splitlines()
                        if line.split()[:3] == [row['method'], row['set'], row['group']])
            values = [float(v) for v in line.split()[3:]]
            columns = ('AUROC', 'FPR95_id_closest', 'AUPR_IN', 'AUPR_OUT', 'ID_accuracy')
            assert values == [round(float(row[c]), 2) for c in columns]
    md = open(osp.join(log_dir, 'report.md')).read()
    assert 'FPR95_id_closest' in md and 'near-OOD: Flat' in md
    for method in methods:
        assert f'### {method}' in md
        for prefix in ('roc', 'score_hist'):
            path = osp.join(log_dir, f'{prefix}_{safe_name(method)}.png')
            with Image.open(path) as img:
                img.verify()
            with Image.open(path) as img:
                assert img.format == 'PNG' and img.size[0] > 100 and img.size[1] > 100


def test_test_run_writes_report_and_features(run):
    check_report(run['log_dir'], TEST_SCORES, {n: metrics_of(run['metrics'], n) for n in TEST_SCORES})
    store = load_tool('cache')
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        store.main(['--cache-dir', run['cache'], 'list'])
    finally:
        sys.stdout = sys_stdout
    listing = out.getvalue()
    for name in ('TinyID (id_test)', 'Noise (ood)', 'Flat (ood)'):
        assert name in listing
    assert listing.count('by tools/test.py --save-features') == 3


def test_rescoring_reproduces_test_metrics_exactly(run, capsys):
    score = load_tool('score')
    methods = ['config', 'mcm', 'msp', 'maxlogit', 'energy']
    result = score.main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'], '--methods',
                         *methods])
    printed = capsys.readouterr().out
    assert result['metrics']['config'] == run['metrics']  # every key of every named score, bit for bit
    for name in TEST_SCORES:  # config/<name>: each score of the run; the table methods equal them
        assert result['metrics'][f'config/{name}'] == metrics_of(run['metrics'], name)
        assert result['metrics'][name] == metrics_of(run['metrics'], name)
    with open(osp.join(run['log_dir'], 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_array_equal(result['scores']['config'], [float(r['ood_score']) for r in rows])
    for name in TEST_SCORES:
        np.testing.assert_array_equal(result['scores'][f'config/{name}'], [float(r[f'score_{name}']) for r in rows])
    shown = ['config', 'config/msp', 'config/maxlogit', 'config/energy', 'mcm', 'msp', 'maxlogit', 'energy']
    check_report(result['log_dir'], shown, {n: metrics_of(result['metrics']['config'], n.split('/')[-1]
                                                          if '/' in n else 'mcm') if n.startswith('config')
                                            else result['metrics'][n] for n in shown}, printed)
    with open(osp.join(result['log_dir'], 'metrics.json')) as f:
        assert json.load(f)['metrics'] == result['metrics']


def test_unknown_method_is_one_line(run, capsys):
    score = load_tool('score')
    with pytest.raises(SystemExit) as err:
        score.main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'], '--methods', 'energi'])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert 'Unknown OOD method "energi". Did you mean "energy"?' in message and 'Traceback' not in message


def test_feature_space_methods_need_id_train(run, capsys):
    score = load_tool('score')
    args = [run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'], '--methods', 'msp', 'knn',
            'mahalanobis', '--method-options', 'knn.k=1']
    with pytest.raises(SystemExit) as err:
        score.main(args)
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert 'knn, mahalanobis needs ID-train features' in message
    assert f'tools/extract_features.py {run["config"]} --splits id_train --kinds global' in message
    # the suggested command keeps the user's checkpoint and --cfg-options (features of the same model)
    with pytest.raises(SystemExit):
        score.main(args + ['--cfg-options', 'test_dataloader.batch_size=8', 'model.logit_scale=50.0'])
    message = capsys.readouterr().err
    assert ' --cfg-options test_dataloader.batch_size=8 model.logit_scale=50.0' in message

    load_tool('extract_features').main([run['config'], '--cache-dir', run['cache'], '--splits', 'id_train',
                                        '--no-progress'])
    result = score.main(args)
    printed = capsys.readouterr().out
    for m in ('knn', 'mahalanobis'):
        assert 0.0 <= result['metrics'][m]['mean/AUROC'] <= 100.0
        assert result['metrics'][m]['ID/accuracy'] == run['metrics']['ID/accuracy']
    check_report(result['log_dir'], ['msp', 'knn', 'mahalanobis'], result['metrics'], printed)
    # the ID-train bank holds the ID test images here: with k = 1 every ID sample finds itself
    ids = result['scores']['knn'][:9]
    assert ids.min() > result['scores']['knn'][9:].max()
