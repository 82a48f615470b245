"""The negative-label family end to end on the tiny tower: CSP's and NegRefine's configs through tools/test.py and
tools/score.py (the same metrics from the cache), and the whole family beside the zero-shot baselines in one
tools/score.py table from one feature extraction (AdaNeg's own run: tests/test_models/test_adaneg_head.py)."""
import glob
import os.path as osp

import pytest
from conftest import REPO, config_path, load_tool, make_benchmark, run_tool, tiny_backbone, tiny_pipeline, tiny_weights

FAMILY = ['neglabel', 'csp', 'adaneg', 'negrefine', 'mcm', 'glmcm', 'msp', 'maxlogit', 'energy']


def write_config(path, base, weights, dataset, head):
    data = {k: v for k, v in dataset.items() if k != 'pipeline'}
    with open(path, 'w') as f:
        f.write(f'''_base_ = ['{config_path(base[:-3])}']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'],
             head={head!r})
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, pipeline={tiny_pipeline()!r},
                       **{data!r}))
''')
    return str(path)


@pytest.fixture(scope='module')
def family(tmp_path_factory, corpus_dir):
    root = tmp_path_factory.mktemp('family')
    dataset = make_benchmark(str(root / 'bench'), n_per_class=3, n_ood=(5, 5))
    weights = tiny_weights(str(root / 'tiny.pt'))
    (root / 'nouns.txt').write_text('hammer\nboat\ntree\nmoss\nfern\nivy\n')
    (root / 'adjs.txt').write_text('red creature\nblue area\ncalm vista\n')
    selected = dict(noun=str(root / 'nouns.txt'), adj=str(root / 'adjs.txt'))
    return dict(root=root, dataset=dataset, weights=weights, cache=str(root / 'cache'), corpus=corpus_dir,
                selected=selected)


def test_csp_config_and_the_family_table(family):
    cfg = write_config(family['root'] / 'csp_tiny.py', 'csp_vitb16.py', family['weights'], family['dataset'],
                       dict(mining=dict(corpus_dir=family['corpus']), grouping=dict(ngroup=2)))
    work = str(family['root'] / 'csp')
    metrics = run_tool('test', [cfg, '--work-dir', work, '--cache-dir', family['cache'], '--save-features'])
    assert metrics['mean/AUROC'] == metrics['csp/mean/AUROC']  # CSP is the primary score
    (negatives, ) = glob.glob(osp.join(work, '2*', 'csp_negatives.txt'))
    with open(negatives) as f:
        mined = f.read().splitlines()
    assert mined and any(' ' in m for m in mined)  # conjugated labels among them
    # GL-MCM needs local features: extracted once more, into the same cache
    run_tool('extract_features', [cfg, '--kinds', 'global', 'local', '--cache-dir', family['cache'], '--no-progress'])
    corpus = family['corpus']
    # an option dict as a Python literal; it replaces the method's own dict of that name (METHODS)
    options = [f'neglabel.mining={dict(corpus_dir=corpus)!r}', f'neglabel.grouping={dict(ngroup=2)!r}',
               f'csp.mining={dict(corpus_dir=corpus)!r}', f'csp.grouping={dict(ngroup=2)!r}',
               f'adaneg.mining={dict(corpus_dir=corpus, num_neg=20)!r}', f'adaneg.grouping={dict(ngroup=2)!r}',
               f'adaneg.stream={dict(batch_size=5)!r}',
               f'negrefine.mining={dict(selected_file=family["selected"])!r}', f'negrefine.grouping={dict(ngroup=3)!r}']
    score = load_tool('score')
    result = score.main([cfg, '--cache-dir', family['cache'], '--work-dir', work, '--no-plots'])
    assert result['metrics'] == metrics  # the test run, from the cache
    # the family beside each other, from one extraction (the config's heads run too, their scores not reported)
    result = score.main([cfg, '--cache-dir', family['cache'], '--work-dir', work, '--methods', 'neglabel_family',
                         '--method-options', *options, '--no-plots'])
    primaries = ['neglabel', 'csp', 'adaneg', 'negrefine', 'glmcm', 'mcm', 'msp', 'maxlogit', 'energy']
    assert set(primaries) <= set(result['table'].scores) and result['table'].primary_score == 'neglabel'
    assert not any(name.startswith('config_') for name in result['table'].scores)
    for name in primaries:
        assert 0.0 <= result['metrics'][f'{name}/mean/AUROC'] <= 100.0, name
    # `csp` with the config's options: the config's scores again
    assert result['metrics']['csp/mean/AUROC'] == metrics['csp/mean/AUROC']
    assert 'adaneg/seeds/mean/AUROC/std' in result['metrics']
    assert result['table'].scores['adaneg'].shape[0] == 2  # one row per (ID, OOD set) pair
    with open(osp.join(result['log_dir'], 'report.md')) as f:
        report = f.read()
    assert 'preprocessing: LoadOODImage' in report
    assert all(f'### {name}' in report for name in primaries)


def test_negrefine_config_test_and_score(family):
    head = dict(mining=dict(selected_file=family['selected']), grouping=dict(ngroup=3))
    cfg = write_config(family['root'] / 'negrefine_tiny.py', 'negrefine_vitb16.py', family['weights'],
                       family['dataset'], head)
    work = str(family['root'] / 'negrefine')
    metrics = run_tool('test', [cfg, '--work-dir', work, '--cache-dir', family['cache'], '--save-features'])
    assert metrics['mean/AUROC'] == metrics['negrefine/mean/AUROC']
    assert {'negrefine_nl/mean/AUROC', 'negrefine_mm/mean/AUROC'} <= set(metrics)
    (negatives, ) = glob.glob(osp.join(work, '2*', 'negrefine_negatives.txt'))
    with open(negatives) as f:
        assert f.read().splitlines() == ['hammer', 'boat', 'tree', 'moss', 'fern', 'ivy', 'red creature',
                                         'blue area', 'calm vista']
    result = load_tool('score').main([cfg, '--cache-dir', family['cache'], '--work-dir', work, '--methods', 'config',
                                      '--no-plots'])
    assert result['metrics'] == metrics


def test_verify_data_checks_the_text_inputs(tmp_path, capsys):
    tool = load_tool('verify_data')
    assert tool.main([config_path('negrefine_vitb16'), '--no-decode']) == 1  # no images here
    out = capsys.readouterr().out
    assert 'selected noun: txtfiles/negrefine/neg_labels_noun.txt: 4998 entries, sha256 8da271ae' in out
    assert 'selected adj: txtfiles/negrefine/neg_labels_adj.txt: 1372 entries, sha256 1bc70a5f' in out
    missing = tmp_path / 'csp_missing_corpus.py'  # a config that changes one mining option of its base's head
    missing.write_text(f"_base_ = ['{REPO}/configs/csp/csp_vitb16.py']\n"
                       f"model = dict(head=dict(mining=dict(corpus_dir='{tmp_path}/none')))\n")
    tool.main([str(missing), '--no-decode'])
    assert 'word corpus folder not found' in capsys.readouterr().out
    tool.main([osp.join(REPO, 'configs', 'adaneg', 'adaneg_vitb16.py'), '--no-decode'])
    assert 'corpus txtfiles/neglabel_corpus: ' in capsys.readouterr().out
