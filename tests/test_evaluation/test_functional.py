"""OOD metrics on hand-computed cases, plus cross-checks against scikit-learn.

Cases (IDs local to this module): ``M_CASES`` A-H and ``constant`` (ID and OOD score lists with their AUROC,
AUPRs and FPR95 under the closest-recall and interpolation rules, ties included); N7, ID scores i/30 (i = 1..30)
against ten OOD scores, where the FPR95 conventions (closest, interp, OOD-positive) disagree."""
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from mmood.evaluation.functional import fpr_at_recall, ood_metrics

# (id scores, ood scores, AUROC, AUPR-In, AUPR-Out, FPR95 closest, FPR95 interp) as fractions
M_CASES = {
    'A': ([.9, .8, .7, .6, .5], [.65, .4, .3], 0.866666666667, 0.926666666667, 0.866666666667, 0.333333333333,
          0.333333333333),
    'B_ties': ([1, 1, .5, .5], [.5, .5, .2], 0.833333333333, 0.833333333333, 0.733333333333, 0.666666666667, 0.6),
    'C': ([1.0 - 0.1 * i for i in range(10)], [.95, .55, .15, .05], 0.625, 0.796519036519, 0.587339743590, 0.75,
          0.75),
    'D': ([1.0 - 0.05 * i for i in range(20)], [.97, .52, .07, .02, .01], 0.7, 0.863269590970, 0.648809523810, 0.6,
          0.6),
    'E_perfect': ([.9, .8], [.1, .2, .3], 1.0, 1.0, 1.0, 0.0, 0.0),
    'F_inverted': ([.1, .2], [.8, .9, .7], 0.0, 0.325, 0.477777777778, 1.0, 1.0),
    'G': ([((37 * i) % 101) / 101 + 0.2 for i in range(100)], [((53 * j) % 61) / 61 for j in range(60)], 0.676,
          0.794239854400, 0.611440014178, 0.766666666667, 0.766666666667),
    'H': ([1 - 0.02 * i for i in range(40)], [.245, .235, .5, .01], 0.890625, 0.987058218690, 0.619298245614, 0.5,
          0.5),
    'constant': ([0.3] * 5, [0.3] * 3, 0.5, 0.625, 0.375, 1.0, 0.95),
}
F64 = dict(rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('name', sorted(M_CASES))
def test_m_cases(name):
    id_s, ood_s, auroc, aupr_in, aupr_out, fpr_closest, fpr_interp = M_CASES[name]
    closest = ood_metrics(id_s, ood_s)  # defaults: ID positive, closest rule
    interp = ood_metrics(id_s, ood_s, fpr_rule='interp')
    for res in (closest, interp):
        np.testing.assert_allclose(res['AUROC'] / 100, auroc, **F64)
        np.testing.assert_allclose(res['AUPR_IN'] / 100, aupr_in, **F64)
        np.testing.assert_allclose(res['AUPR_OUT'] / 100, aupr_out, **F64)
    np.testing.assert_allclose(closest['FPR95'] / 100, fpr_closest, **F64)
    np.testing.assert_allclose(interp['FPR95'] / 100, fpr_interp, **F64)
    np.testing.assert_allclose(fpr_at_recall(id_s, ood_s), fpr_closest, **F64)
    np.testing.assert_allclose(fpr_at_recall(id_s, ood_s, rule='interp'), fpr_interp, **F64)


def test_first_ge_cases_d_h():
    for name, expected in (('D', 0.4), ('H', 0.25)):
        id_s, ood_s = M_CASES[name][:2]
        res = ood_metrics(id_s, ood_s, fpr_rule='first_ge')
        np.testing.assert_allclose(res['FPR95'] / 100, expected, **F64)
        np.testing.assert_allclose(fpr_at_recall(id_s, ood_s, rule='first_ge'), expected, **F64)


def test_closest_rule_c_picks_recall_09():
    """Case C: |0.9 - 0.95| < |1.0 - 0.95| in floats, so recall 0.9 (not 1.0) is the operating point."""
    assert abs(0.9 - 0.95) < abs(1.0 - 0.95)
    id_s, ood_s = M_CASES['C'][:2]
    assert fpr_at_recall(id_s, ood_s) == 0.75


def _n7(variant=False):
    id_s = np.arange(1, 31) / 30
    ood_s = np.array([0.9, 0.52, 0.5, 0.11, 0.08, 2 / 30, 0.02, 0.01, 0.005, 0.0])
    if variant:
        ood_s[6] = 2 / 30
    return id_s, ood_s


def test_n7():
    id_s, ood_s = _n7()
    res = ood_metrics(id_s, ood_s)
    np.testing.assert_allclose(res['AUROC'] / 100, 0.791667, atol=1e-6)
    np.testing.assert_allclose(res['AUPR_IN'] / 100, 0.891329, atol=1e-6)
    np.testing.assert_allclose(res['FPR95'] / 100, 0.50, atol=1e-12)
    np.testing.assert_allclose(ood_metrics(id_s, ood_s, fpr_rule='interp')['FPR95'] / 100, 0.55, atol=1e-12)
    ood_interp = ood_metrics(id_s, ood_s, fpr_positive='ood', fpr_rule='interp')
    np.testing.assert_allclose(ood_interp['FPR95'] / 100, 0.883333, atol=1e-6)
    # AUROC and AUPRs do not depend on the FPR options
    for key in ('AUROC', 'AUPR_IN', 'AUPR_OUT'):
        assert ood_interp[key] == res[key]


def test_n7_variant():
    id_s, ood_s = _n7(variant=True)
    np.testing.assert_allclose(ood_metrics(id_s, ood_s)['FPR95'] / 100, 0.50, atol=1e-12)
    np.testing.assert_allclose(ood_metrics(id_s, ood_s, fpr_rule='interp')['FPR95'] / 100, 0.60, atol=1e-12)


def _random_scores(seed, n_id=300, n_ood=200, rounding=None):
    rng = np.random.default_rng(seed)
    id_s = rng.normal(1.0, 1.0, n_id)
    ood_s = rng.normal(0.0, 1.0, n_ood)
    if rounding is not None:  # create ties within and across the two sets
        id_s, ood_s = np.round(id_s, rounding), np.round(ood_s, rounding)
    return id_s, ood_s


@pytest.mark.parametrize('seed,rounding', [(0, None), (1, 1), (2, 2)])
def test_id_interp_equals_np_interp_on_sklearn_roc(seed, rounding):
    id_s, ood_s = _random_scores(seed, rounding=rounding)
    y = np.r_[np.ones(id_s.size), np.zeros(ood_s.size)]
    fpr, tpr, _ = roc_curve(y, np.r_[id_s, ood_s])
    expected = np.interp(0.95, tpr, fpr)
    np.testing.assert_allclose(ood_metrics(id_s, ood_s, fpr_rule='interp')['FPR95'], 100 * expected, rtol=1e-12)


def _openood_first_ge(pos, neg, recall=0.95):
    """OpenOOD's rule as OpenOOD computes it: sklearn's roc_curve with its default drop_intermediate=True."""
    fpr, tpr, _ = roc_curve(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])
    return fpr[np.argmax(tpr >= recall)]


@pytest.mark.parametrize('seed,rounding', [(3, None), (4, 1), (5, 2)])
def test_ood_first_ge_equals_openood_curve(seed, rounding):
    id_s, ood_s = _random_scores(seed, rounding=rounding)
    # OOD positive: OOD samples are caught when -score >= t; FPR = fraction of ID rejected
    res = ood_metrics(id_s, ood_s, fpr_positive='ood', fpr_rule='first_ge')
    np.testing.assert_allclose(res['FPR95'], 100 * _openood_first_ge(-ood_s, -id_s), rtol=1e-12)
    res_id = ood_metrics(id_s, ood_s, fpr_positive='id', fpr_rule='first_ge')
    np.testing.assert_allclose(res_id['FPR95'], 100 * _openood_first_ge(id_s, ood_s), rtol=1e-12)


def test_first_ge_on_ties_straddling_the_target_uses_openood_curve():
    """Tied (positive, negative) pairs make a straight diagonal of the ROC across 95 % recall. On the full curve
    the first point with TPR >= 0.95 lies inside the run of ties (FPR 0.02); OpenOOD's curve drops the collinear
    points and reaches 0.95 only at the run's end (FPR 0.05). The rule is documented as OpenOOD's: 0.05."""
    ties = [4.0, 3.9, 3.8, 3.7, 3.6]
    pos = np.r_[np.linspace(10, 5, 93), ties, 3.5, 3.4]
    neg = np.r_[ties, np.linspace(3, 0, 95)]
    assert fpr_at_recall(pos, neg, rule='first_ge') == pytest.approx(0.05, abs=1e-12)
    full_fpr, full_tpr, _ = roc_curve(np.r_[np.ones(100), np.zeros(100)], np.r_[pos, neg], drop_intermediate=False)
    assert full_fpr[np.argmax(full_tpr >= 0.95)] == pytest.approx(0.02)  # what the old (full-curve) rule gave


def _direct_closest(pos, neg, recall=0.95):
    """Closest-recall rule by brute force over distinct thresholds.

    Candidates are the thresholds from min(pos) (the highest one accepting every positive) upwards; scanning
    them in ascending order with a strict improvement test makes the lowest threshold win a recall tie.
    """
    best, best_gap = None, None
    for t in np.unique(np.r_[pos, neg]):
        if t < pos.min():
            continue
        gap = abs(np.mean(pos >= t) - recall)
        if best_gap is None or gap < best_gap:
            best, best_gap = np.mean(neg >= t), gap
    return best


@pytest.mark.parametrize('seed,rounding', [(6, None), (7, 1), (8, 2)])
def test_closest_against_direct_computation(seed, rounding):
    id_s, ood_s = _random_scores(seed, rounding=rounding)
    expected = _direct_closest(id_s, ood_s)
    np.testing.assert_allclose(fpr_at_recall(id_s, ood_s), expected, rtol=1e-12)


@pytest.mark.parametrize('seed', [9, 10])
def test_auroc_equals_roc_auc_score(seed):
    id_s, ood_s = _random_scores(seed, rounding=1)
    y = np.r_[np.ones(id_s.size), np.zeros(ood_s.size)]
    expected = roc_auc_score(y, np.r_[id_s, ood_s])
    for positive in ('id', 'ood'):
        for rule in ('closest', 'interp', 'first_ge'):
            res = ood_metrics(id_s, ood_s, fpr_positive=positive, fpr_rule=rule)
            np.testing.assert_allclose(res['AUROC'], 100 * expected, rtol=1e-12)


def test_percent_scaling_and_input_types():
    id_s, ood_s = M_CASES['A'][:2]
    ref = ood_metrics(id_s, ood_s)
    assert set(ref) == {'AUROC', 'FPR95', 'AUPR_IN', 'AUPR_OUT'}
    assert all(isinstance(v, float) for v in ref.values())
    np.testing.assert_allclose(ref['AUROC'], 86.6666666666667, rtol=1e-12)
    np.testing.assert_allclose(ref['FPR95'], 33.3333333333333, rtol=1e-12)
    for conv in (np.asarray, lambda a: torch.tensor(a, dtype=torch.float32),
                 lambda a: torch.tensor(a, dtype=torch.float64)):
        res = ood_metrics(conv(id_s), conv(ood_s))
        for key in ref:
            np.testing.assert_allclose(res[key], ref[key], rtol=1e-6)
    # fpr_at_recall returns a fraction
    np.testing.assert_allclose(fpr_at_recall(id_s, ood_s), 1 / 3, rtol=1e-12)


def test_fp32_saturated_ties():
    """NegLabel scores saturated at exactly 1.0 in fp32 create ID/OOD ties; handled like case B."""
    id_s = torch.tensor([1.0, 1.0, 1.0, 0.9], dtype=torch.float32)
    ood_s = torch.tensor([1.0, 0.5], dtype=torch.float32)
    res = ood_metrics(id_s, ood_s)
    # 8 pairs: three ID 1.0 tie with OOD 1.0 (1.5) and beat OOD 0.5 (3); ID 0.9 beats OOD 0.5 (1)
    np.testing.assert_allclose(res['AUROC'], 100 * 5.5 / 8, rtol=1e-12)
    np.testing.assert_allclose(res['FPR95'], 50.0, rtol=1e-12)


def test_one_class_empty_raises():
    with pytest.raises(ValueError, match='id_scores is empty'):
        ood_metrics([], [0.1, 0.2])
    with pytest.raises(ValueError, match='ood_scores is empty'):
        ood_metrics([0.1, 0.2], np.array([]))
    with pytest.raises(ValueError, match='ood_scores is empty'):
        ood_metrics(torch.tensor([0.1]), torch.tensor([]))
    with pytest.raises(ValueError, match='neg_scores is empty'):
        fpr_at_recall([0.1], [])


def test_bad_options_raise():
    with pytest.raises(ValueError, match=r"Unknown fpr_positive 'in'; valid options are \('id', 'ood'\)"):
        ood_metrics([0.9], [0.1], fpr_positive='in')
    with pytest.raises(ValueError, match=r"Unknown fpr_rule 'nearest'; valid options are "
                       r"\('closest', 'interp', 'first_ge'\)"):
        ood_metrics([0.9], [0.1], fpr_rule='nearest')
    with pytest.raises(ValueError, match='recall must be in'):
        fpr_at_recall([0.9], [0.1], recall=0.0)
    with pytest.raises(ValueError, match='NaN or infinite'):
        ood_metrics([0.9, float('nan')], [0.1])
    with pytest.raises(ValueError, match='must be 1-D'):
        ood_metrics(np.zeros((2, 2)), [0.1])
