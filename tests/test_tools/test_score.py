"""tools/test.py --save-features, then tools/score.py on the cache: exact metrics, reports, plots, errors."""
import csv
import glob
import io
import json
import os.path as osp
import sys

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
        f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
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


def _text(path, drop=()):
    with open(path) as f:
        return [line for line in f.read().splitlines() if not line.startswith(drop)]


def test_rescoring_writes_the_test_runs_files(run, capsys):
    """One scoring path, one writer: tools/score.py on the cached features of a test run writes the run's
    metrics.json and per_sample_results.csv byte for byte, and its report but for the line naming the run."""
    score = load_tool('score')
    result = score.main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work']])
    printed = capsys.readouterr().out
    assert result['metrics'] == run['metrics']  # every key of every named score, bit for bit
    for name in ('metrics.json', 'per_sample_results.csv', 'report.csv'):
        with open(osp.join(run['log_dir'], name), 'rb') as a, open(osp.join(result['log_dir'], name), 'rb') as b:
            assert a.read() == b.read(), name
    assert _text(osp.join(run['log_dir'], 'report.md'), ('- run: ', 'run: ')) == \
        _text(osp.join(result['log_dir'], 'report.md'), ('- run: ', 'run: '))
    assert _text(osp.join(run['log_dir'], 'report.md')) != _text(osp.join(result['log_dir'], 'report.md'))
    check_report(result['log_dir'], TEST_SCORES, {n: metrics_of(result['metrics'], n) for n in TEST_SCORES})
    assert 'OOD metrics of score mcm' in printed and 'msp: mean AUROC' in printed
    # the re-scored run dumps its config: merge_runs finds it the same config as the test run's (spread 0)
    from mmood.apis import merge_runs
    merged = merge_runs([run['log_dir'], result['log_dir']], osp.join(run['root'], 'merged'), out=io.StringIO())
    with open(osp.join(run['root'], 'merged', 'metrics.json')) as f:
        assert json.load(f)['config_check']['status'] == 'same'
    assert merged['num_runs'] == 2 and merged['std']['mean/AUROC'] == 0.0


def test_methods_are_heads_beside_the_configs(run, capsys):
    """--methods NAME adds that method's head beside the config's (its scores in the same files); a score name the
    config's heads already give is named <method>_<score>."""
    score = load_tool('score')
    result = score.main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'], '--methods',
                         'config', 'l1norm', '--no-plots'])
    assert list(result['table'].scores) == TEST_SCORES + ['l1norm'] and result['table'].primary_score == 'mcm'
    for key, value in run['metrics'].items():  # the config's scores are unchanged by the added head
        assert result['metrics'][key] == value
    assert 0.0 <= result['metrics']['l1norm/mean/AUROC'] <= 100.0
    result = score.main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'], '--methods',
                         'config', 'msp', '--method-options', 'msp.temperature=2', '--no-plots'])
    assert list(result['table'].scores) == TEST_SCORES + ['msp_msp']  # msp is the config's: the method's renamed
    assert result['metrics']['msp/mean/AUROC'] == run['metrics']['msp/mean/AUROC']
    assert 'msp_msp/mean/AUROC' in result['metrics']
    # without "config": only the methods' scores, the first method's primary (the config's heads are renamed aside)
    result = score.main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'], '--methods', 'msp',
                         'energy', 'mcm', '--no-plots'])
    assert list(result['table'].scores) == ['msp', 'energy', 'mcm'] and result['table'].primary_score == 'msp'
    assert result['metrics']['mean/AUROC'] == run['metrics']['msp/mean/AUROC']
    assert result['metrics']['energy/mean/AUROC'] == run['metrics']['energy/mean/AUROC']
    assert not any(k.startswith('config_') for k in result['metrics'])


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
    assert 'KNNHead, MahalanobisHead needs ID-train features' in message
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
        assert 0.0 <= result['metrics'][f'{m}/mean/AUROC'] <= 100.0
    assert result['metrics']['ID/accuracy'] == run['metrics']['ID/accuracy']
    names = ['msp', 'knn', 'mahalanobis']
    check_report(result['log_dir'], names, {n: metrics_of(result['metrics'], n) for n in names})
    assert 'knn: mean AUROC' in printed
    # the ID-train bank holds the ID test images here: with k = 1 every ID sample finds itself
    knn = result['table'].scores['knn']
    assert knn[:9].min() > knn[9:].max()


def test_posthoc_detectors_rescore_like_a_test_run(run, tmp_path):
    """The post-hoc detectors that need no fit (GEN, GradNorm, ASH, SCALE), added by --methods to the cached features
    (pre_proj extracted once), give exactly what a test run with the same heads in its config gives from images."""
    load_tool('extract_features').main([run['config'], '--cache-dir', run['cache'], '--kinds', 'global', 'pre_proj',
                                        '--no-progress'])
    methods = ['gen', 'gradnorm', 'ash', 'scale']
    result = load_tool('score').main([run['config'], '--cache-dir', run['cache'], '--work-dir', run['work'],
                                      '--methods', *methods, '--no-plots'])
    config = tmp_path / 'posthoc_heads.py'
    config.write_text(f"_base_ = ['{run['config']}']\n"
                      "model = dict(extra_heads=[dict(type='GENHead'), dict(type='GradNormHead'), "
                      "dict(type='ASHHead'), dict(type='SCALEHead')])\n")
    metrics = run_tool('test', [str(config), '--work-dir', str(tmp_path / 'work'), '--cache-dir', run['cache']])
    for name in methods:
        assert metrics_of(result['metrics'], name) == metrics_of(metrics, name), name
