"""OODMetric: BaseMetric contract, per-set values, near/far/mean aggregation, options in the keys, several named
scores per run, several FPR95 conventions per run, set-level scores (one row per (ID, OOD set) pair)."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import METRICS
from sklearn.metrics import roc_auc_score

from mmood.evaluation import OODMetric, format_table, fpr_at_recall, metrics_of, ood_metrics

NAMES = ('ID', 'A', 'B', 'C')
GROUPS = ('id', 'near', 'far', 'far')


def fake_samples(scores, set_ids, labels, preds):
    return [dict(ood_score=torch.tensor(s), set_id=i, gt_label=torch.tensor([l]), pred_label=torch.tensor([p]))
            for s, i, l, p in zip(scores, set_ids, labels, preds)]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n_id, n = 30, (7, 11, 5)
    scores = np.concatenate([rng.normal(1, 1, n_id)] + [rng.normal(m, 1, k) for m, k in zip((0.5, -1, 0), n)])
    set_ids = np.repeat([0, 1, 2, 3], (n_id, ) + n)
    labels = np.where(set_ids == 0, rng.integers(0, 4, set_ids.size), -1)
    preds = np.where(rng.random(set_ids.size) < 0.7, labels, 3 - np.abs(labels))
    return scores, set_ids, labels, preds


def test_metric_through_registry(data):
    scores, set_ids, labels, preds = data
    metric = METRICS.build(dict(type='OODMetric'))
    metric.dataset_meta = dict(set_names=NAMES, set_groups=GROUPS)
    samples = fake_samples(scores, set_ids, labels, preds)
    metric.process(None, samples[:20])
    metric.process(None, samples[20:])
    assert set(metric.results[0]) == {'idx', 'scores', 'label', 'pred', 'set_id', 'path'}  # keeps little
    out = metric.evaluate(len(samples))
    id_s = scores[set_ids == 0]
    for sid, name in enumerate(NAMES[1:], 1):
        ref = ood_metrics(id_s, scores[set_ids == sid])
        assert out[f'{name}/AUROC'] == pytest.approx(100 * roc_auc_score(
            np.r_[np.ones(len(id_s)), np.zeros((set_ids == sid).sum())], np.r_[id_s, scores[set_ids == sid]]))
        assert out[f'{name}/FPR95_id_closest'] == pytest.approx(ref['FPR95'])
        assert out[f'{name}/AUPR_IN'] == pytest.approx(ref['AUPR_IN'])
        assert out[f'{name}/AUPR_OUT'] == pytest.approx(ref['AUPR_OUT'])
    assert out['near/AUROC'] == pytest.approx(out['A/AUROC'])
    assert out['far/AUROC'] == pytest.approx((out['B/AUROC'] + out['C/AUROC']) / 2)
    assert out['mean/FPR95_id_closest'] == pytest.approx(
        np.mean([out[f'{n}/FPR95_id_closest'] for n in NAMES[1:]]))
    id_mask = set_ids == 0
    assert out['ID/accuracy'] == pytest.approx(100 * np.mean(labels[id_mask] == preds[id_mask]))
    assert metric.results == []  # cleared by evaluate


def test_options_named_in_keys(data):
    scores, set_ids, labels, preds = data
    out = OODMetric.calculate(scores, set_ids, NAMES, GROUPS, fpr_positive='ood', fpr_rule='first_ge')
    assert 'A/FPR95_ood_first_ge' in out and 'A/FPR95_id_closest' not in out and 'ID/accuracy' not in out
    ref = ood_metrics(scores[set_ids == 0], scores[set_ids == 1], fpr_positive='ood', fpr_rule='first_ge')
    assert out['A/FPR95_ood_first_ge'] == pytest.approx(ref['FPR95'])
    with pytest.raises(ValueError):
        OODMetric(fpr_rule='median')


def test_means_from_unrounded_values():
    # cases A and B of M_CASES (tests/test_evaluation/test_functional.py): mean of 86.666.. and 83.333.. is 85.0 exactly
    scores = np.array([.9, .8, .7, .6, .5, .65, .4, .3])
    out = OODMetric.calculate(np.r_[scores, [.4, .3, .2]], np.r_[[0] * 5, [1] * 3, [2] * 3],
                              ('ID', 'a', 'b'), ('id', 'far', 'far'))
    assert out['a/AUROC'] == pytest.approx(86.6666666667)
    assert out['mean/AUROC'] == pytest.approx((out['a/AUROC'] + out['b/AUROC']) / 2)
    assert 'near/AUROC' not in out and 'far/AUROC' in out


def test_errors_and_table(data):
    scores, set_ids, labels, preds = data
    with pytest.raises(ValueError, match='OOD set "C" has no samples'):
        OODMetric.calculate(scores[set_ids != 3], set_ids[set_ids != 3], NAMES, GROUPS)
    with pytest.raises(ValueError, match='No ID samples'):
        OODMetric.calculate(scores[set_ids != 0], set_ids[set_ids != 0], NAMES, GROUPS)
    out = OODMetric.calculate(scores, set_ids, NAMES, GROUPS, labels, preds)
    table = format_table(out, NAMES)
    assert 'ID positive, closest rule' in table and f'{out["B/AUROC"]:7.2f}' in table
    assert table.strip().endswith(f'{out["ID/accuracy"]:.2f}')


def test_named_scores_through_process(data):
    """Several named scores per sample: every one under its prefix, the primary also under the plain keys."""
    scores, set_ids, labels, preds = data
    other = -0.5 * scores + np.linspace(0, 1, scores.size)
    samples = [dict(ood_scores=dict(main=torch.tensor(a), other=torch.tensor(b)), ood_score=torch.tensor(a),
                    set_id=i, gt_label=torch.tensor([l]), pred_label=torch.tensor([p]), sample_idx=k,
                    img_path=f'img{k}.png')
               for k, (a, b, i, l, p) in enumerate(zip(scores, other, set_ids, labels, preds))]
    metric = METRICS.build(dict(type='OODMetric', extra_fpr=[('ood', 'first_ge')]))
    metric.dataset_meta = dict(set_names=NAMES, set_groups=GROUPS)
    metric.process(None, samples[::-1])  # any order: results are put back in dataset order
    out = metric.evaluate(len(samples))
    main = OODMetric.calculate(scores, set_ids, NAMES, GROUPS, labels, preds, extra_fpr=[('ood', 'first_ge')])
    for k, v in main.items():
        assert out[k] == v  # the primary (first) score under the plain keys
    assert metrics_of(out, 'main') == main
    alone = OODMetric.calculate(other, set_ids, NAMES, GROUPS, labels, preds, extra_fpr=[('ood', 'first_ge')])
    assert metrics_of(out, 'other') == alone
    assert 'other/ID/accuracy' not in out and out['ID/accuracy'] == main['ID/accuracy']
    # both FPR95 conventions in one run, each as ood_metrics computes it
    ref = ood_metrics(scores[set_ids == 0], scores[set_ids == 2], fpr_positive='ood', fpr_rule='first_ge')
    assert out['B/FPR95_ood_first_ge'] == pytest.approx(ref['FPR95'], abs=1e-12)
    assert out['B/FPR95_id_closest'] == pytest.approx(ood_metrics(scores[set_ids == 0], scores[set_ids == 2])['FPR95'])
    table = metric.results_table
    assert table.primary_score == 'main' and list(table.idx) == list(range(len(samples)))
    assert table.paths[3] == 'img3.png'
    metric.primary_score = 'other'
    metric.process(None, samples)
    assert metric.evaluate(len(samples))['A/AUROC'] == alone['A/AUROC']


def test_score_names_that_would_collide_are_refused(data):
    scores, set_ids, labels, preds = data
    for bad in ('mean', 'A', 'x/y'):
        with pytest.raises(ValueError, match='cannot name metrics'):
            OODMetric.calculate_named({bad: scores}, bad, set_ids, NAMES, GROUPS)
    with pytest.raises(ValueError, match='FPR95 convention'):
        OODMetric(extra_fpr=[('ood', 'median')])


def test_set_level_scores_one_row_per_pair(data):
    """A set-level score: row i-1 holds the pair (ID, OOD set i); each pair is evaluated on its own row."""
    scores, set_ids, labels, preds = data
    pairs = np.full((3, scores.size), np.nan)
    for sid in (1, 2, 3):
        members = (set_ids == 0) | (set_ids == sid)
        pairs[sid - 1, members] = scores[members] + sid * (set_ids[members] == 0)  # ID shifted per pair
    out = OODMetric.calculate(pairs, set_ids, NAMES, GROUPS, labels, preds)
    for sid, name in enumerate(NAMES[1:], 1):
        ref = ood_metrics(scores[set_ids == 0] + sid, scores[set_ids == sid])
        assert out[f'{name}/AUROC'] == pytest.approx(ref['AUROC'])
        assert out[f'{name}/FPR95_id_closest'] == pytest.approx(ref['FPR95'])
    with pytest.raises(ValueError, match='one row per OOD set'):
        OODMetric.calculate(pairs[:2], set_ids, NAMES, GROUPS)
    assert fpr_at_recall([1.0, 2.0], [0.0]) == 0.0


def test_replicates_mean_and_std(data):
    """Repeated runs of one score (one per stream seed): mean ± std (ddof 0) of each mean-row metric over them."""
    scores, set_ids, labels, preds = data
    rng = np.random.default_rng(1)
    runs = {name: scores + rng.normal(0, 0.5, scores.size) for name in ('s', 's_seed1', 's_seed2')}
    named = dict(runs, other=-scores)
    conventions = (('id', 'closest'), ('ood', 'first_ge'))
    plain = OODMetric.calculate_named(named, 's', set_ids, NAMES, GROUPS, labels, preds, conventions)
    out = OODMetric.calculate_named(named, 's', set_ids, NAMES, GROUPS, labels, preds, conventions,
                                    replicates={'s': list(runs)})
    assert list(out)[:len(plain)] == list(plain) and all(out[k] == v for k, v in plain.items())  # unchanged
    per_name = {n: OODMetric.calculate(v, set_ids, NAMES, GROUPS, labels, preds, extra_fpr=conventions[1:])
                for n, v in runs.items()}
    for group in ('mean', 'near', 'far'):
        for key in ('AUROC', 'FPR95_id_closest', 'FPR95_ood_first_ge', 'AUPR_IN', 'AUPR_OUT'):
            values = [per_name[n][f'{group}/{key}'] for n in runs]
            assert out[f's/seeds/{group}/{key}/mean'] == pytest.approx(np.mean(values))
            assert out[f's/seeds/{group}/{key}/std'] == pytest.approx(np.std(values))
    assert out['s/seeds/mean/AUROC/std'] > 0 and out['s/seeds/count'] == 3
    extra = set(out) - set(plain)
    assert len(extra) == 3 * 5 * 2 + 1 and all(k.startswith('s/seeds/') for k in extra)
    assert metrics_of(out, 's')['seeds/mean/AUROC/mean'] == out['s/seeds/mean/AUROC/mean']  # what a report gets
    assert OODMetric.replicate_summary(per_name, {'s': list(runs)}) == {k: out[k] for k in out if k in extra}
    with pytest.raises(ValueError, match=r"\['s_seed3'\]"):
        OODMetric.calculate_named(named, 's', set_ids, NAMES, GROUPS, replicates={'s': ['s', 's_seed3']})


def test_replicates_from_the_model_and_in_the_report(data, tmp_path):
    """declare_scores takes the model's score_replicates (data, not the model); the report gives the base score a
    mean ± std line."""
    from mmood.evaluation import write_report
    scores, set_ids, labels, preds = data
    runs = dict(s=scores, s_seed1=scores + np.linspace(-1, 1, scores.size))
    samples = [dict(ood_scores={n: torch.tensor(v[k]) for n, v in runs.items()}, set_id=i,
                    gt_label=torch.tensor([l]), pred_label=torch.tensor([p]), sample_idx=k)
               for k, (i, l, p) in enumerate(zip(set_ids, labels, preds))]
    metric = METRICS.build(dict(type='OODMetric'))
    metric.dataset_meta = dict(set_names=NAMES, set_groups=GROUPS)
    metric.declare_scores(primary_score='s', replicates={'s': ['s', 's_seed1']})
    metric.process(None, samples)
    out = metric.evaluate(len(samples))
    assert out == OODMetric.calculate_named(runs, 's', set_ids, NAMES, GROUPS, labels, preds,
                                            replicates={'s': ['s', 's_seed1']})
    assert out['s/seeds/count'] == 2
    results = {n: dict(scores=v, metrics=metrics_of(out, n)) for n, v in runs.items()}
    with open(write_report(str(tmp_path), results, set_ids, NAMES, GROUPS, plots=False)['md']) as f:
        text = f.read()
    line = (f'over 2 stream seeds: mean AUROC {out["s/seeds/mean/AUROC/mean"]:.2f} ± '
            f'{out["s/seeds/mean/AUROC/std"]:.2f}, mean FPR95 {out["s/seeds/mean/FPR95_id_closest/mean"]:.2f} ± '
            f'{out["s/seeds/mean/FPR95_id_closest/std"]:.2f}')
    assert text.count('stream seeds') == 1 and line in text.split('### s_seed1')[0]


def test_process_reads_the_first_label_of_any_form():
    """One-element tensors are read directly; longer tensors, arrays and lists by their first entry (as before)."""
    metric = OODMetric()
    forms = [(torch.tensor([2]), torch.tensor([1])), (torch.tensor([3, 0]), torch.tensor([0, 2])),
             (np.array([1]), np.array([2, 1])), ([0], [3]), (torch.tensor([-1]), torch.tensor([4], dtype=torch.int32))]
    metric.process(None, [dict(ood_score=torch.tensor(0.5), set_id=0, gt_label=g, pred_label=p) for g, p in forms])
    assert [(r['label'], r['pred']) for r in metric.results] == [(2, 1), (3, 0), (1, 2), (0, 3), (-1, 4)]
    assert all(type(r['label']) is int and type(r['pred']) is int for r in metric.results)
