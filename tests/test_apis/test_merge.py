"""mmood.apis.merge_runs: metrics of several runs -> mean ± sample std, report.md / report.csv; other keys refused;
runs of other configs (seeds, weights files and run identity aside) refused unless forced, which records them (the
tool: tests/test_tools/test_merge_runs.py)."""
import csv
import json

import numpy as np
import pytest
from mmengine.config import Config

from mmood.apis import merge_runs
from mmood.apis.merge import check_configs, config_identity, run_config
from mmood.evaluation import OODMetric, merge_metrics
from mmood.utils import ConfigError

NAMES, GROUPS = ['ID', 'A', 'B'], ['id', 'near', 'far']


def run_cfg(seed=0, tau=0.1, **extra):
    """A dumped test-run config as mmengine writes it: the method, the run's identity, its seeds."""
    cfg = dict(model=dict(type='CLIPOODClassifier', backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16',
                                                                  pretrained='openai'),
                          head=dict(type='MCMHead', tau=tau), synthesis=dict(seed=seed + 10), cache_dir=f'/c{seed}'),
               test_dataloader=dict(batch_size=8, num_workers=seed, dataset=dict(type='DigitsOODDataset',
                                                                                 split_seed=0)),
               default_hooks=dict(sampler_seed=dict(type='DistSamplerSeedHook')),
               randomness=dict(seed=seed, deterministic=False), work_dir=f'/w/seed{seed}', launcher='none',
               load_from=f'/ckpt/seed{seed}.pth', env_cfg=dict(dist_cfg=dict(backend='gloo')), cache_dir=f'/c{seed}')
    cfg.update(extra)
    return cfg


def write_run(folder, seed, names=('main', 'other'), cfg=None, dump=True):
    """A test run's log directory: metrics.json and (``dump``) vis_data/config.py."""
    rng = np.random.default_rng(seed)
    set_ids = np.repeat([0, 1, 2], [20, 10, 12])
    scores = {n: rng.normal(size=set_ids.size) + (set_ids == 0) * (1 + i) for i, n in enumerate(names)}
    labels = np.where(set_ids == 0, rng.integers(0, 3, set_ids.size), -1)
    metrics = OODMetric.calculate_named(scores, names[0], set_ids, NAMES, GROUPS, labels, labels)
    folder.mkdir(parents=True)
    with open(folder / 'metrics.json', 'w') as f:
        json.dump(dict(config='x.py', primary_score=names[0], score_names=list(names), set_names=NAMES,
                       set_groups=GROUPS, fpr=[['id', 'closest']], metrics=metrics), f)
    if dump:
        (folder / 'vis_data').mkdir()
        Config(cfg if cfg is not None else run_cfg(seed)).dump(str(folder / 'vis_data' / 'config.py'))
    return metrics


def test_merge_three_runs(tmp_path, capsys):
    runs = [write_run(tmp_path / f'seed{s}', s) for s in range(3)]
    out = tmp_path / 'merged'
    merged = merge_runs([str(tmp_path / f'seed{s}') for s in range(3)], str(out))
    values = [r['other/A/AUROC'] for r in runs]
    assert merged['mean']['other/A/AUROC'] == pytest.approx(np.mean(values))
    assert merged['std']['other/A/AUROC'] == pytest.approx(np.std(values, ddof=1))
    with open(out / 'metrics.json') as f:
        record = json.load(f)
    assert record['num_runs'] == 3 and record['mean']['mean/AUROC'] == pytest.approx(np.mean([r['mean/AUROC']
                                                                                              for r in runs]))
    # the seeds and checkpoints differ by design: the configs are the same one, each run's left-out keys recorded
    check = record['config_check']
    assert check['status'] == 'same' and check['differences'] == {} and check['unchecked'] == []
    assert len({r['digest'] for r in check['runs']}) == 1
    assert [r['seeds']['model.synthesis.seed'] for r in check['runs']] == [10, 11, 12]
    assert check['runs'][2]['weights'] == {'load_from': '/ckpt/seed2.pth'}
    with open(out / 'report.csv') as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith('#')))
    assert len(rows) == 2 * 5  # two scores x (2 sets + near / far / all)
    row = next(r for r in rows if r['score'] == 'other' and r['set'] == 'B')
    assert float(row['AUROC_mean']) == pytest.approx(merged['mean']['other/B/AUROC'])
    assert float(row['FPR95_std']) == pytest.approx(merged['std']['other/B/FPR95_id_closest'])
    md = (out / 'report.md').read_text()
    assert f'{merged["mean"]["A/AUROC"]:.2f} ± {merged["std"]["A/AUROC"]:.2f}' in md
    assert 'randomness.seed = 1' in md and 'load_from = "/ckpt/seed1.pth"' in md and 'warning' not in md
    assert 'test_dataloader.dataset.split_seed' not in md  # the same in every run: not listed
    assert 'Merged 3 runs' in capsys.readouterr().out


def test_runs_of_another_config_are_refused(tmp_path):
    write_run(tmp_path / 'a', 0)
    write_run(tmp_path / 'b', 1, names=('main', 'third'))
    with pytest.raises(ConfigError, match='other metrics than run 1'):
        merge_runs([str(tmp_path / 'a'), str(tmp_path / 'b')], str(tmp_path / 'm'))
    with pytest.raises(ValueError, match='at least one run'):
        merge_metrics([])
    one = merge_metrics([{'x': 1.0}])
    assert one['std']['x'] == 0.0 and one['mean']['x'] == 1.0 and one['num_runs'] == 1


def test_different_configs_refused_unless_forced(tmp_path, capsys):
    """MCM at tau 0.1 and tau 1 are two methods, not two seeds: refused naming the key; forced, recorded."""
    write_run(tmp_path / 'tau0.1', 0, cfg=run_cfg(0, tau=0.1))
    write_run(tmp_path / 'tau1', 1, cfg=run_cfg(1, tau=1))
    write_run(tmp_path / 'tau0.1b', 2, cfg=run_cfg(2, tau=0.1))
    runs = [str(tmp_path / n) for n in ('tau0.1', 'tau1', 'tau0.1b')]
    with pytest.raises(ConfigError) as err:
        merge_runs(runs, str(tmp_path / 'm'))
    message = str(err.value)
    assert 'model.head.tau: 0.1 (runs 1, 3) vs 1 (run 2)' in message
    assert '--allow-different-configs' in message and 'tau0.1b' in message and '\n' not in message
    named = message.split('seeds: ')[1].split('(run 1 =')[0]
    assert named == 'model.head.tau: 0.1 (runs 1, 3) vs 1 (run 2) '  # seeds, work dirs... differ too: not named
    assert not (tmp_path / 'm').exists()
    merged = merge_runs(runs, str(tmp_path / 'm'), allow_different_configs=True)
    assert merged['num_runs'] == 3
    record = json.loads((tmp_path / 'm' / 'metrics.json').read_text())
    assert record['config_check']['status'] == 'different'
    assert record['config_check']['differences'] == {'model.head.tau': [0.1, 1, 0.1]}
    note = 'configs differ (merged with --allow-different-configs): model.head.tau: 0.1 (runs 1, 3) vs 1 (run 2)'
    assert note in (tmp_path / 'm' / 'report.md').read_text()
    assert f'# warning: {note}' in (tmp_path / 'm' / 'report.csv').read_text()
    assert f'warning: {note}' in capsys.readouterr().out
    # a key only one run has is a difference too
    write_run(tmp_path / 'extra', 3, cfg=run_cfg(3, model_wrapper_cfg=dict(type='Other')))
    with pytest.raises(ConfigError, match=r'model_wrapper_cfg.type: <absent> \(run 1\) vs "Other" \(run 2\)'):
        merge_runs([runs[0], str(tmp_path / 'extra')], str(tmp_path / 'm2'))
    # None is a value like any other; a run without a config is left out of the differences (and listed unchecked)
    write_run(tmp_path / 'none', 4, cfg=run_cfg(4, tau=None))
    write_run(tmp_path / 'w' / 'score_20260101_000000', 5, dump=False)
    both = [runs[0], str(tmp_path / 'none'), str(tmp_path / 'w' / 'score_20260101_000000')]
    with pytest.raises(ConfigError, match=r'model.head.tau: 0.1 \(run 1\) vs null \(run 2\) \('):
        merge_runs(both, str(tmp_path / 'm3'))
    merge_runs(both, str(tmp_path / 'm3'), allow_different_configs=True)
    check = json.loads((tmp_path / 'm3' / 'metrics.json').read_text())['config_check']
    assert check['differences'] == {'model.head.tau': [0.1, None, '<no config>']} and len(check['unchecked']) == 1
    md = (tmp_path / 'm3' / 'report.md').read_text()
    assert 'configs differ' in md and 'configs not checked' in md and 'no dumped config for run 3' in md


def test_runs_without_a_config(tmp_path):
    """Nothing to compare (a tools/score.py result records only the config path): refused unless forced."""
    write_run(tmp_path / 'a', 0)
    write_run(tmp_path / 'w' / 'score_20260101_000000', 1, dump=False)
    runs = [str(tmp_path / 'a'), str(tmp_path / 'w' / 'score_20260101_000000')]
    with pytest.raises(ConfigError) as err:
        merge_runs(runs, str(tmp_path / 'm'))
    message = str(err.value)
    assert 'run 2' in message and 'has no dumped config' in message and 'records only the config path, x.py' in message
    assert '--allow-different-configs' in message
    merge_runs(runs, str(tmp_path / 'm'), allow_different_configs=True)
    record = json.loads((tmp_path / 'm' / 'metrics.json').read_text())
    assert record['config_check']['status'] == 'unchecked'
    assert record['config_check']['unchecked'] == [runs[1] + '/metrics.json']
    assert 'configs not checked' in (tmp_path / 'm' / 'report.md').read_text()


def test_work_dir_copy_of_the_config(tmp_path):
    """Without vis_data/config.py the work dir's <config>.py is the run's only while no other run shares the dir."""
    write_run(tmp_path / 'w' / '20260101_000000', 0, dump=False)
    Config(run_cfg(0)).dump(str(tmp_path / 'w' / 'x.py'))
    metrics = str(tmp_path / 'w' / '20260101_000000' / 'metrics.json')
    record = json.loads(open(metrics).read())
    assert run_config(metrics, record) == (str(tmp_path / 'w' / 'x.py'), '')
    write_run(tmp_path / 'w' / '20260101_000001', 1, dump=False)
    path, why = run_config(metrics, record)
    assert path is None and 'the config of the last of its 2 runs' in why
    check = check_configs([metrics], [record], allow_different_configs=True)
    assert check['status'] == 'unchecked'


def test_config_identity():
    base = config_identity(run_cfg(0))
    other = config_identity(run_cfg(5))
    assert base['digest'] == other['digest'] and len(base['digest']) == 16
    assert base['seeds'] == {'model.synthesis.seed': 10, 'test_dataloader.dataset.split_seed': 0,
                             'randomness.seed': 0}
    assert base['weights'] == {'load_from': '/ckpt/seed0.pth'}
    assert {'work_dir', 'launcher', 'cache_dir', 'model.cache_dir', 'env_cfg.dist_cfg.backend',
            'test_dataloader.num_workers'} == set(base['run'])
    compared = base['compared']
    assert compared['model.head.tau'] == 0.1 and compared['model.backbone.pretrained'] == 'openai'  # a tag: compared
    assert compared['default_hooks.sampler_seed.type'] == 'DistSamplerSeedHook'  # a hook, not a seed
    assert compared['randomness.deterministic'] is False
    # tau=1 and tau=1.0 are one setting; tuples and lists too; key order does not matter
    assert config_identity(run_cfg(0, tau=1))['digest'] == config_identity(run_cfg(0, tau=1.0))['digest']
    assert config_identity(dict(a=(1, 2), b=1))['digest'] == config_identity(dict(b=1, a=[1, 2]))['digest']
    # a pretrained weights file is the run's checkpoint; seeds lists (AdaNeg's streams) are seeds
    files = config_identity(dict(model=dict(backbone=dict(pretrained='/x/clip_seed3.pth'), head=dict(seeds=[0, 1]),
                                            init_cfg=dict(type='Pretrained', checkpoint='ckpts/a.pth'))))
    assert files['weights'] == {'model.backbone.pretrained': '/x/clip_seed3.pth',
                                'model.init_cfg.checkpoint': 'ckpts/a.pth'}
    assert files['seeds'] == {'model.head.seeds': [0, 1]}
    hub = config_identity(dict(model=dict(backbone=dict(pretrained='hf-hub:org/model'))))
    assert hub['compared'] == {'model.backbone.pretrained': 'hf-hub:org/model'}
