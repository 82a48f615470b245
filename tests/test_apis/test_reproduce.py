"""tools/analysis_tools/reproduce.py and mmood.apis.reproduce: check, run, compare, resume; the shipped metafile.

The end-to-end test takes the numbers of one tools/test.py run of configs/mcm/mcm_tiny_digits.py (the session's digits
CLIP, conftest `digits_clip`) as "published", plus one deliberately wrong number, and lets reproduce run the same
config again in a subprocess: Δ = 0 within tolerance for the first, outside for the second; a second call reads the
recorded run instead of running again.
"""
import csv
import glob
import json
import os
import os.path as osp
import re

import pytest
import yaml
from conftest import REPO, load_tool, run_tool

from mmood.apis import load_metafile, load_run_config, metafile_problems, valid_metric_keys

METAFILE = osp.join(REPO, 'configs', 'metafile.yml')
KEYS = ['ID/accuracy', 'digits 5-9/AUROC', 'digits 5-9/FPR95_id_closest', 'noise/AUROC', 'noise/FPR95_id_closest',
        'mean/AUROC', 'mean/FPR95_id_closest', 'msp/mean/AUROC']


def _reproduce(argv):
    return load_tool('analysis_tools/reproduce').main([str(a) for a in argv])


def _table(work_dir):
    with open(osp.join(work_dir, 'reproduce.csv')) as f:
        return list(csv.DictReader(line for line in f if not line.startswith('#')))


def test_reproduce_digits_end_to_end_and_resume(digits_clip, tmp_path, capsys):
    trained = digits_clip
    config = osp.join(REPO, 'configs', 'mcm', 'mcm_tiny_digits.py')
    first = str(tmp_path / 'direct')
    run_tool('test', [config, '--work-dir', first, '--cache-dir', trained['cache'], '--cfg-options',
                      f'model.backbone.pretrained={trained["weights"]}'])
    (found, ) = glob.glob(osp.join(first, '*', 'metrics.json'))
    with open(found) as f:
        metrics = json.load(f)['metrics']
    meta = dict(Defaults=dict(Tolerance=0.5), Models=[dict(
        Name='mcm_tiny_digits', **{'In Collection': 'MCM'}, Config='configs/mcm/mcm_tiny_digits.py',
        Results=[dict(Task='OOD Detection', Dataset='digits', Source='a tools/test.py run of this test',
                      Verified=True, Metrics={k: metrics[k] for k in KEYS}),
                 dict(Task='OOD Detection', Dataset='digits', Source='wrong on purpose', Verified=False,
                      Tolerance=1.0, Metrics={'noise/AUROC': metrics['noise/AUROC'] - 3.0})])])
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text(yaml.safe_dump(meta, sort_keys=False))
    work = str(tmp_path / 'reproduce')
    argv = ['--metafile', metafile, '--work-dir', work, '--cache-dir', trained['cache'],
            '--pretrained', f'mmood-tiny-vit={trained["weights"]}']
    capsys.readouterr()
    assert _reproduce(argv) == 1  # the wrong number is outside its tolerance
    printed = capsys.readouterr().out
    assert 'running tools/test.py' in printed
    rows = _table(work)
    assert [r['key'] for r in rows] == KEYS + ['noise/AUROC']
    for r in rows[:-1]:
        assert float(r['measured']) == pytest.approx(float(r['published']), abs=1e-9), r
        assert float(r['delta']) == pytest.approx(0.0, abs=1e-9) and r['within'] == 'True' and r['status'] == 'within'
    wrong = rows[-1]
    assert float(wrong['delta']) == pytest.approx(3.0, abs=1e-9) and wrong['within'] == 'False'
    assert wrong['status'] == 'outside' and wrong['verified'] == 'False' and wrong['tolerance'] == '1.0'
    assert rows[0]['set'] == 'ID' and rows[5]['set'] == 'all (mean)' and rows[7]['metric'] == 'msp AUROC'
    with open(osp.join(work, 'reproduce.md')) as f:
        md = f.read()
    summary = '8 within tolerance / 9 compared / 0 missing'
    assert summary in md and summary in printed
    assert f'| mcm_tiny_digits | MCM | digits | noise | AUROC | {metrics["noise/AUROC"]:.2f} [1] | ' \
        f'{metrics["noise/AUROC"]:.2f} | +0.00 | 0.5 | yes |' in md
    assert '| +3.00 | 1 | **no** |' in md and '2. wrong on purpose — unverified' in md
    (run_metrics, ) = glob.glob(osp.join(work, 'mcm_tiny_digits', '*', 'metrics.json'))
    record = osp.join(work, 'mcm_tiny_digits', 'reproduce_run.json')
    mtimes = (os.stat(run_metrics).st_mtime_ns, os.stat(record).st_mtime_ns)

    assert _reproduce(argv) == 1  # resumed: the recorded run is read, not run again
    printed = capsys.readouterr().out
    assert 'finished earlier (same digest)' in printed and 'running tools/test.py' not in printed
    assert glob.glob(osp.join(work, 'mcm_tiny_digits', '*', 'metrics.json')) == [run_metrics]
    assert (os.stat(run_metrics).st_mtime_ns, os.stat(record).st_mtime_ns) == mtimes
    assert [r['measured'] for r in _table(work)] == [r['measured'] for r in rows]

    # another setting is another digest: the dry run no longer finds a finished run for it
    assert _reproduce(argv + ['--cfg-options', 'model.head.tau=0.2', '--dry-run']) == 0
    printed = capsys.readouterr().out
    assert 'finished run on record' not in printed and '=> ready' in printed


def test_dry_run_lists_what_every_run_lacks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no data/ and no checkpoints/ here: every data path and checkpoint is missing
    work = tmp_path / 'never'
    assert _reproduce(['--dry-run', '--work-dir', work]) == 0
    printed = capsys.readouterr().out
    assert not work.exists()  # a dry run writes nothing
    blocks = re.split(r'\n(?=\[\d+/\d+\] )', printed)
    runs = load_metafile(METAFILE)['runs']
    assert len(blocks) == len(runs) + 1  # the header line, then one block per run
    for run, block in zip(runs, blocks[1:]):
        assert block.startswith(f'[{runs.index(run) + 1}/{len(runs)}] {run.name} -- {run.method}, {run.config}')
        weights = re.search(r'^  weights +(ok|MISSING)', block, re.M)
        assert weights, block
        if weights.group(1) == 'MISSING':  # where to get them: the hub file or the metafile's note
            assert 'huggingface.co/' in block or '\n              get: ' in block, block
        if run.config.endswith('tiny_digits.py'):
            assert '  data        ok: test: 740 samples (DigitsOODDataset)' in block
        else:
            assert '  data        MISSING: ' in block and 'not found: data/' in block, block
            assert re.search(r'get: (imagenet_mos|openood_v15_imagenet|imagenet_negrefine): ', block), block
        if run.checkpoint:
            assert f'  checkpoint  MISSING: checkpoint file not found: {run.checkpoint}' in block
            assert block.count('get: ') >= 2
        assert '=> not ready (missing: ' in block or '=> ready' in block
    assert re.search(r'dry run: \d+ of \d+ run\(s\) ready; missing: ', printed)


def test_shipped_metafile_configs_and_metric_keys():
    meta = load_metafile(METAFILE)
    runs = meta['runs']
    assert meta['tolerance'] == 0.5 and len({r.name for r in runs}) == len(runs)
    assert metafile_problems(meta) == []  # every config loads with its options, every key is one mmood writes
    for run in runs:
        assert run.method and run.published, run.name
        for p in run.published:
            assert 0.0 <= p.value <= 100.0 and p.source and p.dataset, (run.name, p)
            if p.source.startswith('OpenOOD-VLM'):
                assert not p.verified
    by_name = {r.name: r for r in runs}
    assert by_name['glmcm_vitb16_lambda1'].cfg_options == ['model.head.local_weight=1.0']
    assert {'mcm_tiny_digits', 'neglabel_tiny_digits', 'clipn_tiny_digits'} <= set(by_name)

    # the key check itself: conventions, named scores and sets come from the config and its options
    cfg, _, options = load_run_config(by_name['clipn_vitb16_cc3m'])
    keys = set(valid_metric_keys(cfg))
    assert options == ['test_evaluator.fpr_rule=interp']
    assert {'ctw/SUN/FPR95_id_interp', 'mean/AUROC', 'ID/accuracy'} <= keys
    assert not {'SUN/FPR95_id_closest', 'glmcm/SUN/AUROC', 'SSB-hard/AUROC', 'near/AUROC'} & keys
    cfg, _, _ = load_run_config(by_name['adaneg_tiny_digits'])
    keys = set(valid_metric_keys(cfg))
    assert {'adaneg/seeds/near/AUROC/mean', 'adaneg_sample/noise/AUROC', 'near/AUROC'} <= keys
    assert 'digits 5-9/FPR95_ood_first_ge' not in keys
