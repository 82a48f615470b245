"""NegLabel score: vectors (IDs local to this module) V1, computed by hand, and V2, formula-generated features
(D = 8, K = 4, M = 12, B = 3), and edge cases (NL-*, docs/reference_deviations.md)."""
import numpy as np
import pytest
import torch

from mmood.scores.neglabel import group_permutation, neglabel_score

F64 = dict(rtol=1e-9, atol=0.0)

# ---------------------------------------------------------------- V1 (by hand)
POS_V1 = torch.tensor([[0.30, 0.20], [0.22, 0.21]], dtype=torch.float64)
NEG_V1 = torch.tensor([[0.25, 0.10, 0.28, 0.05, 0.27], [0.26, 0.24, 0.23, 0.25, 0.20]], dtype=torch.float64)


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _v2_cosines():
    pos = _unit(np.cos(np.arange(32).reshape(4, 8) * 1.3 + 0.1))
    neg = _unit(np.sin(np.arange(96).reshape(12, 8) * 2.1 + 0.5))
    img = _unit(0.5 * pos[:3] + np.array([0.2, 0.5, 0.8])[:, None] * neg[:3] +
                0.1 * np.sin(np.arange(24).reshape(3, 8) * 0.7 + 0.3))
    return torch.from_numpy(img @ pos.T), torch.from_numpy(img @ neg.T)


def test_v1_ungrouped_paper_formula():
    out = neglabel_score(POS_V1, NEG_V1, tau=0.01)
    np.testing.assert_allclose(out.numpy(), [0.839030637591, 0.015851341264], **F64)
    # closed form of sample 0
    e = np.exp
    closed = (e(30) + e(20)) / (e(30) + e(20) + e(25) + e(10) + e(28) + e(5) + e(27))
    np.testing.assert_allclose(out[0].item(), closed, rtol=1e-12)
    # ngroup = 1 and ngroup = 0 are the ungrouped formula too
    np.testing.assert_allclose(neglabel_score(POS_V1, NEG_V1, ngroup=1).numpy(), out.numpy(), rtol=0)
    np.testing.assert_allclose(neglabel_score(POS_V1, NEG_V1, ngroup=0).numpy(), out.numpy(), rtol=0)


def test_v1_raw_sum_bug_not_reproduced():
    """NL-1: the reference returns sum_k s_k / t = 50.0 / 43.0 for ngroup <= 1; mmood uses the paper formula."""
    raw_sum = (100 * POS_V1).sum(dim=1)
    np.testing.assert_allclose(raw_sum.numpy(), [50.0, 43.0])
    out = neglabel_score(POS_V1, NEG_V1, ngroup=1)
    assert not np.allclose(out.numpy(), raw_sum.numpy())
    assert bool(((out > 0) & (out < 1)).all())


def test_v1_grouped_identity_drops_tail():
    out = neglabel_score(POS_V1, NEG_V1, ngroup=2)
    np.testing.assert_allclose(out.numpy(), [0.937054646664, 0.039090403383], **F64)
    # the dropped negative #4 has no influence at all (M mod ngroup = 1 column dropped)
    changed = NEG_V1.clone()
    changed[:, 4] = 0.9
    np.testing.assert_array_equal(neglabel_score(POS_V1, changed, ngroup=2).numpy(), out.numpy())
    # the default permutation is the identity over the kept columns
    explicit = neglabel_score(POS_V1, NEG_V1, ngroup=2, perm=torch.tensor([0, 1, 2, 3]))
    np.testing.assert_array_equal(explicit.numpy(), out.numpy())


def test_v1_grouped_permutation_after_drop():
    out = neglabel_score(POS_V1, NEG_V1, ngroup=2, perm=torch.tensor([0, 2, 1, 3]))
    np.testing.assert_allclose(out.numpy(), [0.937802768971, 0.035367494773], **F64)


def test_v1_one_negative_per_group():
    out = neglabel_score(POS_V1, NEG_V1, ngroup=5)
    np.testing.assert_allclose(out.numpy(), [0.965337094210, 0.297827085951], **F64)


def test_v1_ngroup_larger_than_m_raises():
    with pytest.raises(ValueError, match=r'ngroup \(6\) is larger than the number of negative labels M \(5\)'):
        neglabel_score(POS_V1, NEG_V1, ngroup=6)
    with pytest.raises(ValueError, match=r'ngroup \(6\) is larger than the number of negative labels'):
        group_permutation(5, 6)


def test_v1_group_fuse_num_keeps_n_groups():
    """NL-2: group_fuse_num = n keeps n groups; the reference's off-by-one value must not appear."""
    full = neglabel_score(POS_V1, NEG_V1, ngroup=2)
    fused2 = neglabel_score(POS_V1, NEG_V1, ngroup=2, group_fuse_num=2)
    np.testing.assert_allclose(fused2.numpy(), [0.937054646664, 0.039090403383], **F64)
    np.testing.assert_array_equal(fused2.numpy(), full.numpy())
    assert not np.isclose(fused2[0].item(), 0.993307448850, rtol=1e-6)
    # n = 1 keeps group 0 only: this is the value the reference gives for group_fuse_num = 2
    fused1 = neglabel_score(POS_V1, NEG_V1, ngroup=2, group_fuse_num=1)
    np.testing.assert_allclose(fused1.numpy(), [0.993307448850, 0.021590680982], **F64)
    for bad in (0, 3):
        with pytest.raises(ValueError, match='group_fuse_num must be in'):
            neglabel_score(POS_V1, NEG_V1, ngroup=2, group_fuse_num=bad)


def test_v1_temperature():
    out = neglabel_score(POS_V1, NEG_V1, tau=0.02)
    np.testing.assert_allclose(out.numpy(), [0.599290987493, 0.088211986033], **F64)


def test_v1_fp32():
    out = neglabel_score(POS_V1.float(), NEG_V1.float(), ngroup=2, perm=torch.tensor([0, 2, 1, 3]))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [0.937802768971, 0.035367494773], rtol=1e-5)


# ---------------------------------------------------------------- V2 (formula-generated features)
V2_CASES = [
    (dict(tau=0.01), [1.0, 5.030034846166e-05, 9.716517796084e-13]),
    (dict(tau=0.01, ngroup=3), [1.0, 4.717995037334e-02, 7.253180358397e-12]),
    (dict(tau=0.01, ngroup=5), [1.0, 0.400925919268, 0.400000000004]),
    (dict(tau=0.1), [0.988369799319, 0.113502814084, 0.019762202776]),
    (dict(tau=0.1, ngroup=3), [0.996094369680, 0.310260314156, 0.058243128352]),
]


def test_v2_row0_cosines():
    pos_cos, _ = _v2_cosines()
    np.testing.assert_allclose(pos_cos[0].numpy(), [0.865681737311, -0.605348617211, -0.251849656209,
                                                    0.830147975028], **F64)


@pytest.mark.parametrize('kwargs,expected', V2_CASES)
def test_v2_float64(kwargs, expected):
    pos_cos, neg_cos = _v2_cosines()
    out = neglabel_score(pos_cos, neg_cos, **kwargs).numpy()
    # 1.0 entries are saturated in float64 too; compare everything with rtol 1e-9
    np.testing.assert_allclose(out, expected, **F64)


@pytest.mark.parametrize('kwargs,expected', V2_CASES)
def test_v2_float32_log_space(kwargs, expected):
    pos_cos, neg_cos = _v2_cosines()
    out = neglabel_score(pos_cos.float(), neg_cos.float(), **kwargs)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    out = out.double().numpy()
    expected = np.asarray(expected)
    tiny = expected < 1e-6
    saturated = expected > 1 - 1e-6
    normal = ~(tiny | saturated)
    np.testing.assert_allclose(out[normal], expected[normal], rtol=1e-5)
    np.testing.assert_allclose(np.log(out[tiny]), np.log(expected[tiny]), atol=1e-4)
    # log(1 - S) for saturated scores: both are ~ -inf / very negative; S must stay in [0, 1]
    assert np.all(out[saturated] <= 1.0) and np.all(out[saturated] > 1 - 1e-6)


def test_half_inputs_are_upcast():
    pos_cos, neg_cos = _v2_cosines()
    out = neglabel_score(pos_cos.half(), neg_cos.half(), tau=0.1)
    assert out.dtype == torch.float32
    ref = neglabel_score(pos_cos.half().double(), neg_cos.half().double(), tau=0.1)
    np.testing.assert_allclose(out.double().numpy(), ref.numpy(), rtol=1e-5)


# ---------------------------------------------------------------- edge cases
def test_fp32_saturation_to_one_without_nan():
    # negative mass 50 * e^5 against the ID mass e^30 + e^10: 1 - S ~ 7e-10, below fp32 resolution -> exactly 1.0
    pos = torch.tensor([[0.30, 0.10]], dtype=torch.float32)
    neg = torch.full((1, 50), 0.05, dtype=torch.float32)
    out = neglabel_score(pos, neg, tau=0.01)
    assert out.item() == 1.0
    assert not torch.isnan(out).any()
    # float64 keeps the deficit; compare log(1 - S) with the closed form
    out64 = neglabel_score(pos.double(), neg.double(), tau=0.01).item()
    neg_mass, pos_mass = 50 * np.exp(5.0), np.exp(30.0) + np.exp(10.0)
    np.testing.assert_allclose(np.log1p(-out64), np.log(neg_mass / (pos_mass + neg_mass)), atol=1e-4)
    # extreme logits (cos / tau ~ 1e4) stay finite in both directions, grouped or not
    out = neglabel_score(pos, neg, tau=1e-4, ngroup=10)
    assert out.item() == 1.0
    out = neglabel_score(-pos, torch.ones(1, 50), tau=1e-4)
    assert out.item() == 0.0


def test_duplicated_id_names_count_twice():
    pos = torch.tensor([[0.30, 0.20]], dtype=torch.float64)
    dup = torch.tensor([[0.30, 0.20, 0.30]], dtype=torch.float64)
    neg = NEG_V1[:1]
    e = np.exp
    neg_mass = e(25) + e(10) + e(28) + e(5) + e(27)
    expected = (2 * e(30) + e(20)) / (2 * e(30) + e(20) + neg_mass)
    np.testing.assert_allclose(neglabel_score(dup, neg).item(), expected, rtol=1e-12)
    assert neglabel_score(dup, neg).item() > neglabel_score(pos, neg).item()


def test_large_batch_is_memory_friendly_and_matches_direct_softmax():
    gen = torch.Generator().manual_seed(0)
    pos = torch.rand(256, 100, generator=gen) * 0.4
    neg = torch.rand(256, 10000, generator=gen) * 0.4
    out = neglabel_score(pos, neg, tau=0.01, ngroup=100)
    assert out.shape == (256, )
    assert torch.isfinite(out).all()
    direct = torch.softmax(
        torch.cat([pos[:, None, :].expand(256, 100, 100), neg.reshape(256, 100, 100)], dim=2).double() / 0.01,
        dim=2)[..., :100].sum(dim=2).mean(dim=1)
    np.testing.assert_allclose(out.double().numpy(), direct.numpy(), rtol=1e-5, atol=1e-7)


def test_invalid_inputs():
    with pytest.raises(ValueError, match='Batch sizes differ'):
        neglabel_score(POS_V1, NEG_V1[:1])
    with pytest.raises(ValueError, match='tau must be'):
        neglabel_score(POS_V1, NEG_V1, tau=0.0)
    with pytest.raises(ValueError, match='2-D'):
        neglabel_score(POS_V1[0], NEG_V1)
    with pytest.raises(ValueError, match='multiple of ngroup'):
        neglabel_score(POS_V1, NEG_V1, ngroup=2, perm=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='outside'):
        neglabel_score(POS_V1, NEG_V1, ngroup=2, perm=torch.tensor([0, 1, 2, 5]))
    with pytest.raises(ValueError, match='at least one negative'):
        neglabel_score(POS_V1, NEG_V1[:, :0])


# ---------------------------------------------------------------- group_permutation
def test_group_permutation_no_grouping():
    for ngroup in (-1, 0, 1):
        np.testing.assert_array_equal(group_permutation(7, ngroup).numpy(), np.arange(7))


def test_group_permutation_no_shuffle_is_identity_drop_tail():
    perm = group_permutation(10499, 100, shuffle=False)
    assert perm.dtype == torch.long
    np.testing.assert_array_equal(perm.numpy(), np.arange(10400))
    np.testing.assert_array_equal(
        group_permutation(11, 3, shuffle=False, drop_tail_before_shuffle=False).numpy(), np.arange(9))


def test_group_permutation_seeded_determinism():
    a = group_permutation(10499, 100, seed=0)
    b = group_permutation(10499, 100, seed=0)
    c = group_permutation(10499, 100, seed=1)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not torch.equal(a, c)
    assert a.numel() == 10400
    # the global RNG is neither used nor disturbed
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    group_permutation(50, 5, seed=7)
    np.testing.assert_array_equal(torch.rand(3).numpy(), before.numpy())


def test_group_permutation_drop_modes():
    # reference mode: the tail (indices >= 10400) is dropped first, the rest is a permutation of 0..10399
    ref = group_permutation(10499, 100, seed=0, drop_tail_before_shuffle=True)
    np.testing.assert_array_equal(np.sort(ref.numpy()), np.arange(10400))
    np.testing.assert_array_equal(ref.numpy(), torch.randperm(10400, generator=torch.Generator().manual_seed(0)))
    # alternative: permute all M, keep the first ngroup * m
    alt = group_permutation(10499, 100, seed=0, drop_tail_before_shuffle=False)
    assert alt.numel() == 10400
    assert len(np.unique(alt.numpy())) == 10400
    assert alt.max().item() < 10499
    assert alt.max().item() >= 10400  # tail columns can be kept in this mode
    full = torch.randperm(10499, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(alt.numpy(), full[:10400].numpy())


def test_group_permutation_feeds_neglabel_score():
    pos_cos, neg_cos = _v2_cosines()
    perm = group_permutation(12, 3, seed=3)
    out = neglabel_score(pos_cos, neg_cos, tau=0.1, ngroup=3, perm=perm)
    expected = np.mean([
        neglabel_score(pos_cos, neg_cos[:, perm[4 * g:4 * (g + 1)]], tau=0.1).numpy() for g in range(3)
    ], axis=0)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
