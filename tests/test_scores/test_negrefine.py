"""NegRefine's multi-matching-aware score: hand vectors NR1-NR3 (IDs local to this module: two
ID labels by two negatives, composite and negative logits), the composite order, the
pairing of each composite with its own negative, overflow-free values and the tie rule of top_pairs (NR-8)."""
import numpy as np
import pytest
import torch

from mmood.scores import compose_texts, multimatch_score, top_pairs


def _mm(c, v, k_pos=2, k_neg=2):
    comp = torch.tensor(c, dtype=torch.float64).view(1, k_pos, k_neg)
    return float(multimatch_score(comp, torch.tensor([v], dtype=torch.float64)))


def _numpy_ss(c, v_paired):
    c, v = np.asarray(c, np.float64), np.asarray(v_paired, np.float64)
    return np.exp(c) / (np.exp(c) + np.exp(v))


def test_nr1():
    c, v = [27.0, 25.5, 24.0, 26.2], [26.0, 25.0]
    ss = _numpy_ss(c, [26, 25, 26, 25])
    np.testing.assert_allclose(ss, [0.731059, 0.622459, 0.119203, 0.768525], atol=1e-6)
    s_mm = _mm(c, v)
    assert s_mm == pytest.approx(0.768525, abs=1e-6) and s_mm == pytest.approx(ss.max(), abs=1e-12)
    assert 0.6 + 2 * s_mm == pytest.approx(2.137050, abs=1e-6)


def test_nr2():
    c, v = [22.0, 21.5, 20.0, 23.0], [27.5, 26.0]
    ss = _numpy_ss(c, [27.5, 26.0, 27.5, 26.0])
    np.testing.assert_allclose(ss, [0.004070, 0.010987, 0.000553, 0.047426], atol=1e-6)
    s_mm = _mm(c, v)
    assert s_mm == pytest.approx(0.047426, abs=1e-6)
    assert 0.02 + 2 * s_mm == pytest.approx(0.114852, abs=1e-6)


def test_nr3_pairing():
    """Each composite is compared with its own negative's logit, not with one indexed by the ID label."""
    c, v = [24.0, 27.0, 25.5, 26.2], [26.0, 25.0]
    assert _mm(c, v) == pytest.approx(0.880797, abs=1e-6)
    assert _numpy_ss(c, [26, 25, 26, 25]).max() == pytest.approx(0.880797, abs=1e-6)
    assert _numpy_ss(c, [26, 26, 25, 25]).max() == pytest.approx(0.768525, abs=1e-6)  # the wrong pairing


def test_batched_float32_and_no_overflow():
    """Rows are independent; float32 logits near 100 (exp overflows above ~88: NR-2) give finite values."""
    comp = torch.tensor([[[27.0, 25.5], [24.0, 26.2]], [[99.0, 120.0], [130.0, 95.0]]])
    neg = torch.tensor([[26.0, 25.0], [100.0, 121.0]])
    out = multimatch_score(comp, neg)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert float(out[0]) == pytest.approx(0.768525, abs=1e-6)
    assert float(out[1]) == pytest.approx(1 / (1 + np.exp(-30.0)), abs=1e-6)  # 130 - 100
    with pytest.raises(ValueError, match='pair'):
        multimatch_score(comp, neg[:, :1])
    with pytest.raises(ValueError):
        multimatch_score(comp[0], neg)


def test_compose_texts_p_major():
    assert compose_texts(['tench', 'goldfish'], ['white currant', 'gooey landscape', 'x']) == [
        'tench and white currant', 'tench and gooey landscape', 'tench and x',
        'goldfish and white currant', 'goldfish and gooey landscape', 'goldfish and x']
    assert compose_texts([], ['a']) == []


def test_top_pairs_order_values_and_ties():
    pos = torch.tensor([[0.1, 0.9, 0.5, 0.7], [2.0, 2.0, 1.0, 2.0]])
    neg = torch.tensor([[3.0, 1.0, 3.0, 2.0, 3.0], [0.0, 5.0, 4.0, 3.0, 2.0]])
    pos_idx, neg_idx, neg_top = top_pairs(pos, neg, 2, 2)
    assert pos_idx.tolist() == [[1, 3], [0, 1]]  # row 1: three tied values, the first two indices
    assert neg_idx.tolist() == [[0, 2], [1, 2]]  # row 0: three tied values straddle the cut
    assert neg_top.tolist() == [[3.0, 3.0], [5.0, 4.0]]
    # a row without ties keeps topk's answer; every row's result equals its own single-row call
    for b in range(2):
        single = top_pairs(pos[b:b + 1], neg[b:b + 1], 2, 2)
        assert single[0].tolist() == pos_idx[b:b + 1].tolist() and single[1].tolist() == neg_idx[b:b + 1].tolist()
    all_tied = top_pairs(torch.zeros(1, 6), torch.ones(1, 4), 3, 4)
    assert all_tied[0].tolist() == [[0, 1, 2]] and all_tied[1].tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match='k_neg'):
        top_pairs(pos, neg, 2, 6)
    with pytest.raises(ValueError, match='k_pos'):
        top_pairs(pos, neg, 0, 2)
