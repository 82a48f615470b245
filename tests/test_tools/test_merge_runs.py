"""tools/merge_runs.py: arguments to :func:`mmood.apis.merge_runs`; runs that cannot be merged are one line and exit
status 2 (the merging itself: tests/test_apis/test_merge.py)."""
import json

import numpy as np
import pytest
from conftest import load_tool

from mmood.evaluation import OODMetric


def test_command_line(tmp_path, capsys):
    tool = load_tool('merge_runs')
    aurocs = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        set_ids = np.repeat([0, 1], [20, 10])
        labels = np.where(set_ids == 0, rng.integers(0, 3, set_ids.size), -1)
        metrics = OODMetric.calculate_named({'main': rng.normal(size=30) + (set_ids == 0)}, 'main', set_ids,
                                            ['ID', 'A'], ['id', 'far'], labels, labels)
        aurocs.append(metrics['A/AUROC'])
        folder = tmp_path / f'seed{seed}' / '20260101_000000'  # a test run's log folder
        folder.mkdir(parents=True)
        (folder / 'metrics.json').write_text(json.dumps(dict(
            primary_score='main', score_names=['main'], set_names=['ID', 'A'], set_groups=['id', 'far'],
            fpr=[['id', 'closest']], metrics=metrics)))
    merged = tool.main([str(tmp_path / 'seed0'), str(tmp_path / 'seed1'), '--out', str(tmp_path / 'merged')])
    assert merged['mean']['A/AUROC'] == pytest.approx(np.mean(aurocs)) and merged['num_runs'] == 2
    assert 'Merged 2 runs' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        tool.main([str(tmp_path / 'none'), '--out', str(tmp_path / 'm')])
    assert exit_.value.code == 2 and 'expected one metrics.json in it' in capsys.readouterr().err
