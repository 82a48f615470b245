"""ViM against OpenOOD v1.5's ``VIMPostprocessor`` maths transcribed here (``o = −pinv(W) b``,
``EmpiricalCovariance(assume_centered=True)`` of ``z − o``, ``np.linalg.eig``, the eigenvectors of all but the
``dim`` largest eigenvalues, ``α = mean max logit / mean residual norm``, ``lse(s) − α ‖Rᵀ(z − o)‖``) on random
features, and against test vectors computed in float64 by an independent transcription: 3 query features of
dimension 4, a 3-class head ``z @ W.T + b``, fitted on 6 ID-train features with ``dim = 2`` (α = 2.67178,
o = [−0.134702, 0.222452, −0.0402638, 0.0226684])."""
import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.covariance import EmpiricalCovariance

from mmood.scores import fit_vim, vim_origin, vim_score
from posthoc_cases import B, F, W, Z


def openood_vim(train: np.ndarray, test: np.ndarray, w: np.ndarray, b: np.ndarray, dim: int) -> np.ndarray:
    """OpenOOD v1.5's ViM, transcribed (setup + postprocess)."""
    logit_train = train @ w.T + b
    u = -np.matmul(np.linalg.pinv(w), b)
    ec = EmpiricalCovariance(assume_centered=True)
    ec.fit(train - u)
    eig_vals, eigen_vectors = np.linalg.eig(ec.covariance_)
    ns = np.ascontiguousarray((eigen_vectors.T[np.argsort(eig_vals * -1)[dim:]]).T)
    vlogit_train = np.linalg.norm(np.matmul(train - u, ns), axis=-1)
    alpha = logit_train.max(axis=-1).mean() / vlogit_train.mean()
    logit = test @ w.T + b
    return -np.linalg.norm(np.matmul(test - u, ns), axis=-1) * alpha + logsumexp(logit, axis=-1)


def fit_and_score(train, test, w, b, dim):
    stats = fit_vim(train, (train @ w.T + b).max(dim=1).values, w, b, dim)
    return vim_score(test, test @ w.T + b, stats), stats


def test_vectors():
    score, stats = fit_and_score(F, Z, W, B, 2)
    np.testing.assert_allclose(score.numpy(), [0.580531, 0.611219, 0.219295], rtol=1e-5)
    assert float(stats['alpha']) == pytest.approx(2.67178, rel=1e-5)
    np.testing.assert_allclose(stats['origin'].numpy(), [-0.134702, 0.222452, -0.0402638, 0.0226684], rtol=1e-5)
    np.testing.assert_allclose(score.numpy(), openood_vim(F.numpy(), Z.numpy(), W.numpy(), B.numpy(), 2),
                               rtol=1e-9)


@pytest.mark.parametrize('dim, bias', [(4, True), (10, True), (1, False), (15, True)])
def test_against_openood_on_random_features(dim, bias):
    g = torch.Generator().manual_seed(dim)
    mix = torch.randn(16, 16, generator=g, dtype=torch.float64)
    train = torch.randn(300, 16, generator=g, dtype=torch.float64) @ mix
    test = torch.randn(40, 16, generator=g, dtype=torch.float64) * 1.5
    w = torch.randn(5, 16, generator=g, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64) if bias else torch.zeros(5, dtype=torch.float64)
    score, _ = fit_and_score(train, test, w, b, dim)
    expected = openood_vim(train.numpy(), test.numpy(), w.numpy(), b.numpy(), dim)
    np.testing.assert_allclose(score.numpy(), expected, rtol=1e-6)
    # float32 features: upcast per chunk, the same statistics to float32 rounding; chunks change nothing
    score32 = vim_score(test.float(), (test @ w.T + b).float(),
                        fit_vim(train.float(), (train @ w.T + b).max(dim=1).values, w, b, dim, chunk_size=7))
    np.testing.assert_allclose(score32.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_origin_and_sign():
    assert torch.equal(vim_origin(W, torch.zeros(3, dtype=torch.float64)), torch.zeros(4, dtype=torch.float64))
    assert torch.equal(vim_origin(W, None), torch.zeros(4, dtype=torch.float64))
    # the origin maps onto -b: W o = -b (W has full row rank)
    torch.testing.assert_close(W @ vim_origin(W, B), -B)
    # higher = more ID: the same logits, a larger residual outside the principal subspace scores lower
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 6, generator=g, dtype=torch.float64) * torch.tensor([5, 4, 3, 0.1, 0.1, 0.1],
                                                                                 dtype=torch.float64)
    w = torch.randn(3, 6, generator=g, dtype=torch.float64)
    stats = fit_vim(train, (train @ w.T).max(dim=1).values, w, None, 3)
    near = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    far = near + 3.0 * stats['residual'][:, :1].T  # moved along the residual space only
    logits = torch.zeros(1, 3, dtype=torch.float64)
    assert vim_score(near, logits, stats) > vim_score(far, logits, stats)


def test_errors():
    max_logits = (F @ W.T + B).max(dim=1).values
    for dim in (0, 4, 5):  # the residual space must be non-empty and the subspace too (OpenOOD: NaN at dim >= D)
        with pytest.raises(ValueError, match='0 < dim < D = 4'):
            fit_vim(F, max_logits, W, B, dim)
    with pytest.raises(ValueError, match='do not fit together'):
        fit_vim(F, max_logits[:3], W, B, 2)
