"""tools/merge_runs.py: arguments to :func:`mmood.apis.merge_runs`; runs that cannot be merged (no metrics.json,
another config) are one line and exit status 2; ``--allow-different-configs`` merges them anyway (the merging itself:
tests/test_apis/test_merge.py)."""
import json

import numpy as np
import pytest
from conftest import load_tool
from mmengine.config import Config

from mmood.evaluation import OODMetric


def write_run(folder, seed, tau=0.1):
    """A test run's log folder: metrics.json and the config mmengine's visualizer dumps (vis_data/config.py)."""
    rng = np.random.default_rng(seed)
    set_ids = np.repeat([0, 1], [20, 10])
    labels = np.where(set_ids == 0, rng.integers(0, 3, set_ids.size), -1)
    metrics = OODMetric.calculate_named({'main': rng.normal(size=30) + (set_ids == 0)}, 'main', set_ids,
                                        ['ID', 'A'], ['id', 'far'], labels, labels)
    (folder / 'vis_data').mkdir(parents=True)
    (folder / 'metrics.json').write_text(json.dumps(dict(
        config='configs/mcm.py', primary_score='main', score_names=['main'], set_names=['ID', 'A'],
        set_groups=['id', 'far'], fpr=[['id', 'closest']], metrics=metrics)))
    Config(dict(model=dict(type='CLIPOODClassifier', head=dict(type='MCMHead', tau=tau)),
                randomness=dict(seed=seed), work_dir=str(folder.parent))).dump(str(folder / 'vis_data' / 'config.py'))
    return metrics


def test_command_line(tmp_path, capsys):
    tool = load_tool('merge_runs')
    aurocs = [write_run(tmp_path / f'seed{seed}' / '20260101_000000', seed)['A/AUROC'] for seed in (0, 1)]
    merged = tool.main([str(tmp_path / 'seed0'), str(tmp_path / 'seed1'), '--out', str(tmp_path / 'merged')])
    assert merged['mean']['A/AUROC'] == pytest.approx(np.mean(aurocs)) and merged['num_runs'] == 2
    assert 'Merged 2 runs' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        tool.main([str(tmp_path / 'none'), '--out', str(tmp_path / 'm')])
    assert exit_.value.code == 2 and 'expected one metrics.json in it' in capsys.readouterr().err


def test_different_configs(tmp_path, capsys):
    """MCM at tau 0.1 and at tau 1: one line naming the key and its values per run; forced, recorded."""
    tool = load_tool('merge_runs')
    write_run(tmp_path / 'tau0.1' / '20260101_000000', 0, tau=0.1)
    write_run(tmp_path / 'tau1' / '20260101_000000', 1, tau=1)
    runs = [str(tmp_path / 'tau0.1'), str(tmp_path / 'tau1')]
    with pytest.raises(SystemExit) as exit_:
        tool.main(runs + ['--out', str(tmp_path / 'm')])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count('\n') == 1 and err.startswith('error: the runs ran different configs')
    assert 'model.head.tau: 0.1 (run 1) vs 1 (run 2)' in err and '--allow-different-configs' in err
    merged = tool.main(runs + ['--out', str(tmp_path / 'm'), '--allow-different-configs'])
    assert merged['num_runs'] == 2
    record = json.loads((tmp_path / 'm' / 'metrics.json').read_text())
    assert record['config_check']['differences'] == {'model.head.tau': [0.1, 1]}
    assert 'warning: configs differ' in capsys.readouterr().out
