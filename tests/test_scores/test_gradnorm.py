"""GradNorm's closed form against OpenOOD v1.5's computation transcribed here (``GradNormPostprocessor``: per
sample, ``L = sum_c -ones_c * log_softmax(W z + b)_c`` back-propagated to the last layer, the entry-wise L1 norm of
``dL/dW``, the bias gradient left out) with torch autograd, and against test vectors computed in float64 by an
independent transcription: 4-d features, 3 classes."""
import numpy as np
import pytest
import torch

from mmood.scores import gradnorm_score
from posthoc_cases import B, W, Z


def openood_gradnorm(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> np.ndarray:
    """OpenOOD v1.5's GradNorm, transcribed: one backward per sample with all-ones targets."""
    out = []
    for row in z:
        w = weight.clone().requires_grad_(True)
        logits = row[None] @ w.T + bias
        targets = torch.ones_like(logits)
        loss = torch.mean(torch.sum(-targets * torch.log_softmax(logits, dim=-1), dim=-1))
        loss.backward()
        out.append(float(w.grad.abs().sum()))
    return np.array(out)


def test_vectors():
    expected = [7.82261, 1.78477, 5.21151]
    np.testing.assert_allclose(gradnorm_score(Z, Z @ W.T + B).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(gradnorm_score(Z.float(), (Z @ W.T + B).float()).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(openood_gradnorm(Z, W, B), expected, rtol=1e-5)


def test_closed_form_equals_autograd_on_random_layers():
    g = torch.Generator().manual_seed(0)
    for num, dim in ((10, 16), (1000, 32)):
        z = torch.randn(20, dim, generator=g, dtype=torch.float64)
        weight = torch.randn(num, dim, generator=g, dtype=torch.float64) * 0.5
        bias = torch.randn(num, generator=g, dtype=torch.float64)
        np.testing.assert_allclose(gradnorm_score(z, z @ weight.T + bias).numpy(), openood_gradnorm(z, weight, bias),
                                   rtol=1e-6)


def test_edges_sign_and_errors():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    zero = gradnorm_score(torch.zeros(2, 4, dtype=torch.float64), logits)
    assert torch.equal(zero, torch.zeros(2, dtype=torch.float64))  # z = 0
    assert gradnorm_score(torch.ones(2, 4, dtype=torch.float64), logits)[1] == 0  # uniform p
    z = torch.ones(2, 4, dtype=torch.float64)
    peaked, flat = torch.tensor([[8.0, 0.0, 0.0]]), torch.tensor([[0.5, 0.0, 0.0]])
    assert gradnorm_score(z[:1], peaked) > gradnorm_score(z[:1], flat)  # higher = more confident = more ID
    with pytest.raises(ValueError, match='features must be'):
        gradnorm_score(z[:1], logits)
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        gradnorm_score(z, logits[0])
