"""ASH-P / -B / -S against OpenOOD v1.5's maths transcribed here (``ash_p`` / ``ash_b`` / ``ash_s`` of
``openood/networks/ash_net.py``: k = n − round(n · q / 100), top-k, zero and scatter, s₁ / k or exp(s₁ / s₂); the
energy ``logsumexp`` of the logits), the round-half-to-even k, the tie and s₂ = 0 conventions, and hand-checked
values for 3 samples (4-d features, 3 classes) computed in float64 by an independent transcription."""
import numpy as np
import pytest
import torch

from mmood.scores import ash_keep_count, ash_score, ash_shape, linear_energy, sharpen_ratio, top_k_stable
from posthoc_cases import lse, B, B_EDGE, W, Z, Z_EDGE


def openood_ash(x: np.ndarray, q: float, variant: str) -> np.ndarray:
    """OpenOOD v1.5's ash_{p,b,s}, transcribed on (N, D) (the reference reshapes to (N, D, 1, 1); no ties here)."""
    x = x.copy()
    s1 = x.sum(axis=1)
    n = x.shape[1]
    k = n - int(np.round(n * q / 100.0))
    i = np.argsort(-x, axis=1)[:, :k]
    v = np.take_along_axis(x, i, axis=1)
    t = np.zeros_like(x)
    if variant == 'b':
        np.put_along_axis(t, i, np.repeat((s1 / k)[:, None], k, axis=1), axis=1)
        return t
    np.put_along_axis(t, i, v, axis=1)
    if variant == 'p':
        return t
    s2 = t.sum(axis=1)
    return t * np.exp(s1 / s2)[:, None]


@pytest.mark.parametrize('dim, q, k', [(4, 62.5, 2), (4, 65, 1), (10, 75, 2), (10, 85, 2), (4, 50, 2),
                                       (768, 90, 77), (2048, 90, 205), (512, 65, 179), (4, 0, 4)])
def test_keep_count_rounds_half_to_even(dim, q, k):
    assert ash_keep_count(dim, q) == k


@pytest.mark.parametrize('variant, q, expected', [
    ('p', 50, [1.8731, 1.75203, 2.2785]),
    ('b', 50, [2.06864, 1.90636, 2.22128]),
    ('s', 50, [5.31467, 3.73667, 6.02115]),
    ('b', 65, [2.29739, 1.83172, 3.62424]),   # k = 1
])
def test_vectors(variant, q, expected):
    np.testing.assert_allclose(ash_score(Z, W, B, percentile=q, variant=variant).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(ash_score(Z.float(), W.float(), B.float(), percentile=q, variant=variant).numpy(),
                               expected, rtol=1e-5)  # float32


def test_ash_b_fill_by_hand():
    assert torch.equal(ash_shape(Z, 50, 'b')[0], torch.tensor([1.5, 0.0, 0.0, 1.5], dtype=torch.float64))


@pytest.mark.parametrize('variant', ['b', 'p', 's'])
def test_against_openood_on_random_features(variant):
    rng = np.random.default_rng(1)
    feats = np.abs(rng.normal(size=(30, 64)))  # post-ReLU-like, no ties
    w, b = rng.normal(size=(10, 64)) * 0.1, rng.normal(size=10)
    for q in (65, 70, 80, 90, 95):
        ours = ash_score(torch.from_numpy(feats), torch.from_numpy(w), torch.from_numpy(b), percentile=q,
                         variant=variant)
        np.testing.assert_allclose(ours.numpy(), lse(openood_ash(feats, q, variant) @ w.T + b), rtol=1e-6)


def test_ties_keep_the_lower_index():
    z = torch.tensor([[1.0, 2.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    values, indices = top_k_stable(z, 3)
    assert indices.tolist() == [[1, 0, 2]] and values.tolist() == [[2.0, 1.0, 1.0]]
    assert ash_shape(z, 40, 'p').tolist() == [[1.0, 2.0, 1.0, 0.0, 0.0]]  # k = 5 - round(2) = 3
    assert ash_shape(z, 40, 'b').tolist() == [[5 / 3, 5 / 3, 5 / 3, 0.0, 0.0]]
    flat = torch.full((2, 6), 0.5, dtype=torch.float64)  # all equal: the first k entries
    assert ash_shape(flat, 50, 'p').tolist() == [[0.5, 0.5, 0.5, 0.0, 0.0, 0.0]] * 2


def test_edge_s2_zero_and_zero_features():
    # z = 0: s2 = 0 -> ratio 0 (factor 1), so ASH-S gives lse(b) where the reference gives NaN
    np.testing.assert_allclose(ash_score(Z_EDGE, W, B_EDGE, percentile=50, variant='s').numpy(),
                               [1.18222, 3.28716, 3.34883], rtol=1e-5)
    assert float(ash_score(Z_EDGE[:1], W, B_EDGE, percentile=50, variant='s')) == \
        pytest.approx(float(torch.logsumexp(B_EDGE, 0)), rel=1e-12)
    signed = torch.tensor([[1.0, -1.0, 0.5, -0.5]], dtype=torch.float64)  # s2 = 1.0 + 0.5, s1 = 0
    assert float(sharpen_ratio(signed, 50)) == 0.0
    zero_top = torch.tensor([[0.0, 0.0, -1.0, -2.0]], dtype=torch.float64)  # s1 = -3, s2 = 0 -> ratio 0
    assert float(sharpen_ratio(zero_top, 50)) == 0.0
    for variant in 'bps':
        assert torch.equal(ash_shape(Z_EDGE[:1], 50, variant), Z_EDGE[:1])  # zeros stay zeros, no NaN


def test_no_mutation_and_normaliser():
    z = Z.clone()
    for variant in 'bps':
        ash_shape(z, 50, variant)
    assert torch.equal(z, Z)
    norm = torch.tensor([2.0, 1.0, 4.0], dtype=torch.float64)
    expected = linear_energy(ash_shape(Z, 50, 'b') / norm[:, None], W)  # (W z' + 0) / n
    np.testing.assert_allclose(ash_score(Z, W, None, norm[:, None], percentile=50).numpy(), expected.numpy(),
                               rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match=r'\[0, 100\)'):
        ash_keep_count(4, 100)
    with pytest.raises(ValueError, match=r'\[0, 100\)'):
        ash_keep_count(4, -1)
    with pytest.raises(ValueError, match='keeps no entry'):
        ash_keep_count(4, 90)  # round(3.6) = 4: k = 0
    with pytest.raises(ValueError, match='variant'):
        ash_shape(Z, 50, 'x')
    with pytest.raises(ValueError, match='floating'):
        ash_shape(torch.ones(2, 4, dtype=torch.long), 50)
