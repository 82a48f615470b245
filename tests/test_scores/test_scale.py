"""SCALE against OpenOOD v1.5's maths transcribed here (``scale`` of ``openood/networks/scale_net.py``: k = n −
round(n · q / 100), s₁ over s₂ of the top-k pruned copy, the unpruned input times exp(s₁ / s₂); the energy
``logsumexp`` of the logits, bias unscaled), the s₂ = 0 convention, and hand-checked values for 3 samples (4-d
features, 3 classes) computed in float64 by an independent transcription."""
import numpy as np
import pytest
import torch

from mmood.scores import ash_shape, linear_energy, scale_score, scale_shape
from posthoc_cases import lse, B, B_EDGE, W, Z, Z_EDGE


def openood_scale(x: np.ndarray, q: float) -> np.ndarray:
    """OpenOOD v1.5's scale(), transcribed on (N, D): the input times exp(s1 / s2) of its top-k pruned copy."""
    s1 = x.sum(axis=1)
    n = x.shape[1]
    k = n - int(np.round(n * q / 100.0))
    i = np.argsort(-x, axis=1)[:, :k]
    t = np.zeros_like(x)
    np.put_along_axis(t, i, np.take_along_axis(x, i, axis=1), axis=1)
    return x * np.exp(s1 / t.sum(axis=1))[:, None]


def test_vectors():
    np.testing.assert_allclose(scale_score(Z, W, B, percentile=50).numpy(), [5.38458, 3.62088, 6.48815], rtol=1e-5)
    np.testing.assert_allclose(scale_score(Z.float(), W.float(), B.float(), percentile=50).numpy(),
                               [5.38458, 3.62088, 6.48815], rtol=1e-5)  # float32


def test_against_openood_on_random_features():
    rng = np.random.default_rng(2)
    feats = np.abs(rng.normal(size=(30, 64)))
    w, b = rng.normal(size=(10, 64)) * 0.1, rng.normal(size=10)
    for q in (65, 75, 85, 95):
        ours = scale_score(torch.from_numpy(feats), torch.from_numpy(w), torch.from_numpy(b), percentile=q)
        np.testing.assert_allclose(ours.numpy(), lse(openood_scale(feats, q) @ w.T + b), rtol=1e-6)


def test_bias_is_not_scaled_and_ash_s_relation():
    # lse(e^r W z + b): the same as ASH-S's factor applied to the unpruned z
    r = (scale_shape(Z, 50) / Z)[:, :1]
    expected = torch.logsumexp(r * (Z @ W.T) + B, dim=1)
    np.testing.assert_allclose(scale_score(Z, W, B, percentile=50).numpy(), expected.numpy(), rtol=1e-12)
    pruned = ash_shape(Z, 50, 'p')
    torch.testing.assert_close(ash_shape(Z, 50, 's'), pruned * r)


def test_edge_s2_zero_and_zero_features():
    np.testing.assert_allclose(scale_score(Z_EDGE, W, B_EDGE, percentile=50).numpy(), [1.18222, 3.31222, 3.42200],
                               rtol=1e-5)
    assert float(scale_score(Z_EDGE[:1], W, B_EDGE, percentile=50)) == \
        pytest.approx(float(torch.logsumexp(B_EDGE, 0)), rel=1e-12)


def test_ties_no_mutation_and_normaliser():
    tied = torch.tensor([[1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)  # any tied pick has the same s2 = 2
    torch.testing.assert_close(scale_shape(tied, 50), tied * np.exp(2.0))
    z = Z.clone()
    scale_shape(z, 85)
    assert torch.equal(z, Z)
    norm = torch.tensor([[2.0], [1.0], [4.0]], dtype=torch.float64)
    np.testing.assert_allclose(scale_score(Z, W, B, norm, percentile=50).numpy(),
                               linear_energy(scale_shape(Z, 50), W, B, norm).numpy(), rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match=r'\[0, 100\)'):
        scale_score(Z, W, B, percentile=100)
