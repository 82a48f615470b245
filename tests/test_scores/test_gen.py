"""GEN against OpenOOD v1.5's maths transcribed here (``GENPostprocessor``: softmax, sort ascending, keep the last M,
``-sum(p^g (1 - p)^g)``) and against published-style test vectors computed in float64 by an independent
transcription: 3 samples, logits ``z @ W.T + b`` of 4-d features and 3 classes."""
import numpy as np
import pytest
import torch

from mmood.scores import gen_score
from posthoc_cases import B, W, Z


def openood_gen(logits: np.ndarray, gamma: float, m: int) -> np.ndarray:
    """OpenOOD v1.5's GEN, transcribed: probabilities sorted ascending, the last M kept."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p = np.sort(p, axis=1)[:, -m:]
    return -np.sum(p ** gamma * (1 - p) ** gamma, axis=1)


@pytest.mark.parametrize('gamma, m, expected', [
    (0.1, 100, [-2.432, -2.56333, -2.54241]),      # M >= C: every class
    (0.1, 2, [-1.64889, -1.7346, -1.71729]),       # the two largest probabilities
])
def test_vectors(gamma, m, expected):
    logits = Z @ W.T + B
    np.testing.assert_allclose(gen_score(logits, gamma, m).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(gen_score(logits.float(), gamma, m).numpy(), expected, rtol=1e-5)  # float32


def test_against_openood_on_random_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 1000, generator=g, dtype=torch.float64) * 3
    for gamma, m in ((0.1, 100), (0.01, 10), (2.0, 1000), (5.0, 1)):
        np.testing.assert_allclose(gen_score(logits, gamma, m).numpy(), openood_gen(logits.numpy(), gamma, m),
                                   rtol=1e-9)


def test_sign_and_errors():
    peaked, flat = torch.tensor([[10.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0]])
    assert gen_score(peaked) > gen_score(flat)  # higher = more in-distribution
    with pytest.raises(ValueError, match='gamma'):
        gen_score(peaked, gamma=0.0)
    with pytest.raises(ValueError, match='top_m'):
        gen_score(peaked, top_m=0)
