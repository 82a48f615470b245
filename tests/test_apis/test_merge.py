"""mmood.apis.merge_runs: metrics of several runs -> mean ± sample std, report.md / report.csv; other keys refused
(the tool: tests/test_tools/test_merge_runs.py)."""
import csv
import json

import numpy as np
import pytest
from mmood.apis import merge_runs
from mmood.evaluation import OODMetric, merge_metrics
from mmood.utils import ConfigError

NAMES, GROUPS = ['ID', 'A', 'B'], ['id', 'near', 'far']


def write_run(folder, seed, names=('main', 'other')):
    rng = np.random.default_rng(seed)
    set_ids = np.repeat([0, 1, 2], [20, 10, 12])
    scores = {n: rng.normal(size=set_ids.size) + (set_ids == 0) * (1 + i) for i, n in enumerate(names)}
    labels = np.where(set_ids == 0, rng.integers(0, 3, set_ids.size), -1)
    metrics = OODMetric.calculate_named(scores, names[0], set_ids, NAMES, GROUPS, labels, labels)
    folder.mkdir()
    with open(folder / 'metrics.json', 'w') as f:
        json.dump(dict(config='x.py', primary_score=names[0], score_names=list(names), set_names=NAMES,
                       set_groups=GROUPS, fpr=[['id', 'closest']], metrics=metrics), f)
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
    with open(out / 'report.csv') as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith('#')))
    assert len(rows) == 2 * 5  # two scores x (2 sets + near / far / all)
    row = next(r for r in rows if r['score'] == 'other' and r['set'] == 'B')
    assert float(row['AUROC_mean']) == pytest.approx(merged['mean']['other/B/AUROC'])
    assert float(row['FPR95_std']) == pytest.approx(merged['std']['other/B/FPR95_id_closest'])
    md = (out / 'report.md').read_text()
    assert f'{merged["mean"]["A/AUROC"]:.2f} ± {merged["std"]["A/AUROC"]:.2f}' in md
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
