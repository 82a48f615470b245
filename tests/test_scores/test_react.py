"""ReAct against OpenOOD v1.5's maths transcribed here (``ReactPostprocessor.setup``: ``np.percentile`` of the
flattened activations; ``ReactNet.forward_threshold``: ``feature.clip(max=c)``, then the linear layer; the energy
``logsumexp`` of the logits), and against hand-checked values for 3 samples (4-d features, 3 classes, a 6-row ID
set F) computed in float64 by an independent transcription."""
import numpy as np
import pytest
import torch

from mmood.scores import linear_energy, react_score, react_shape, react_threshold
from posthoc_cases import lse, B, F, W, Z


def openood_react(feats: np.ndarray, w: np.ndarray, b: np.ndarray, id_feats: np.ndarray, q: float) -> np.ndarray:
    """OpenOOD v1.5's ReAct, transcribed: c over the flattened ID activations, clip from above, energy."""
    threshold = np.percentile(id_feats.flatten(), q)
    return lse(feats.clip(max=threshold) @ w.T + b)


def test_vectors():
    assert react_threshold(F, 90) == pytest.approx(1.17, rel=1e-12)
    np.testing.assert_allclose(react_score(Z, W, B, threshold=react_threshold(F, 90)).numpy(),
                               [1.76794, 1.75509, 1.86289], rtol=1e-5)
    np.testing.assert_allclose(linear_energy(Z, W, B).numpy(), [1.95407, 1.75509, 2.41642], rtol=1e-5)  # energy


def test_against_openood_on_random_features():
    rng = np.random.default_rng(0)
    feats, id_feats = rng.normal(size=(40, 64)), rng.normal(size=(100, 64))
    w, b = rng.normal(size=(10, 64)) * 0.3, rng.normal(size=10)
    for q in (85, 90, 95, 99, 37.5):
        c = react_threshold(torch.from_numpy(id_feats), q)
        assert c == np.percentile(id_feats.flatten(), q)  # numpy's linear interpolation, all N x D entries pooled
        ours = react_score(torch.from_numpy(feats), torch.from_numpy(w), torch.from_numpy(b), threshold=c)
        np.testing.assert_allclose(ours.numpy(), openood_react(feats, w, b, id_feats, q), rtol=1e-6)


def test_normaliser_lower_clip_and_no_mutation():
    z = torch.tensor([[-3.0, 0.5, 2.0]], dtype=torch.float64)
    before = z.clone()
    assert torch.equal(react_shape(z, 1.0), torch.tensor([[-3.0, 0.5, 1.0]], dtype=torch.float64))  # upper clip only
    assert torch.equal(z, before)
    w = torch.eye(3, dtype=torch.float64)
    norm = torch.tensor([[2.0]], dtype=torch.float64)
    expected = torch.logsumexp(torch.tensor([-1.5, 0.25, 0.5], dtype=torch.float64), 0)
    assert float(react_score(z, w, None, norm, threshold=1.0)) == pytest.approx(float(expected), rel=1e-12)
    assert float(react_score(torch.zeros(1, 3, dtype=torch.float64), w, threshold=0.0)) == pytest.approx(np.log(3))


def test_errors():
    with pytest.raises(ValueError, match='percentile'):
        react_threshold(F, 101)
    with pytest.raises(ValueError, match='no activations'):
        react_threshold(np.zeros((0, 4)), 90)
    with pytest.raises(ValueError, match='must agree'):
        react_score(Z, W[:, :3], threshold=1.0)
