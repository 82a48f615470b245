"""fDBD against OpenOOD v1.5's ``fDBDPostprocessor`` maths transcribed here (the ID-train mean, the
``denominator_matrix`` of ``‖w − w_p‖`` with 1 on the diagonal, ``Σ_j |s_j − s_max| / den[pred, j]`` over
``‖z − μ‖`` or ``‖z‖``) on random features, and against test vectors computed in float64 by an independent
transcription: 3 query features of dimension 4, a 3-class head ``z @ W.T + b``, the mean of 6 ID-train features.
Edge case: two identical weight rows (duplicate class names) contribute 0 for their pair (OpenOOD: 0 / 0, NaN)."""
import numpy as np
import pytest
import torch

from mmood.scores import boundary_norms, fdbd_score, fit_fdbd
from posthoc_cases import B, F, W, Z


def openood_fdbd(train, test, w, b, distance_as_normalizer=True):
    """OpenOOD v1.5's fDBD, transcribed (setup + postprocess)."""
    num_classes = w.shape[0]
    train_mean = torch.from_numpy(np.mean(train.numpy(), axis=0))
    den = np.zeros((num_classes, num_classes))
    for p in range(num_classes):
        d = np.linalg.norm(w.numpy() - w.numpy()[p, :], axis=1)
        d[p] = 1
        den[p, :] = d
    den = torch.tensor(den)
    output = test @ w.T + b
    values, nn_idx = output.max(1)
    logits_sub = torch.abs(output - values.repeat(num_classes, 1).T)
    norm = torch.norm(test - train_mean, dim=1) if distance_as_normalizer else torch.norm(test, dim=1)
    return torch.sum(logits_sub / den[nn_idx], axis=1) / norm


def fit_and_score(train, test, w, b, distance=True):
    stats = fit_fdbd(train, w)
    return fdbd_score(test, test.double() @ w.T + b, stats['pair_norms'], stats['center'], distance)


def test_vectors():
    np.testing.assert_allclose(fit_and_score(F, Z, W, B).numpy(), [2.14732, 0.69294, 1.07656], rtol=1e-5)
    np.testing.assert_allclose(fit_and_score(F, Z, W, B, False).numpy(), [1.36346, 0.46055, 0.682713], rtol=1e-5)
    np.testing.assert_allclose(fit_fdbd(F, W)['center'].numpy(), [0.55, 0.483333, 0.7, 0.566667], rtol=1e-5)


@pytest.mark.parametrize('distance', [True, False])
def test_against_openood_on_random_features(distance):
    g = torch.Generator().manual_seed(2)
    train = torch.randn(200, 16, generator=g, dtype=torch.float64) + 1
    test = torch.randn(40, 16, generator=g, dtype=torch.float64)
    w, b = torch.randn(9, 16, generator=g, dtype=torch.float64), torch.randn(9, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(fit_and_score(train, test, w, b, distance).numpy(),
                               openood_fdbd(train, test, w, b, distance).numpy(), rtol=1e-6)
    # float32 features: the same numbers to float32 rounding
    np.testing.assert_allclose(fit_and_score(train.float(), test.float(), w, b, distance).numpy(),
                               openood_fdbd(train, test, w, b, distance).numpy(), rtol=1e-5)


def test_duplicate_rows():
    ze = torch.tensor([[0.5, 0.1, 0.2, 1.0], [1.0, 0.3, 0.8, 0.0]], dtype=torch.float64)
    be = torch.tensor([0.1, 0.1, 0.05], dtype=torch.float64)
    wdup = W.clone()
    wdup[1] = W[0]
    score = fit_and_score(F[[0, 2, 4]], ze, wdup, be)
    np.testing.assert_allclose(score.numpy(), [0.904291, 0.615025], rtol=1e-5)
    assert torch.isnan(openood_fdbd(F[[0, 2, 4]], ze, wdup, be)[0])  # the reference: 0 / 0 for the pair
    # rows equal to rounding count as one class twice; the table is symmetric with a zero diagonal
    near = wdup.clone()
    near[1] += 1e-9
    norms = boundary_norms(near)
    assert norms[0, 1] == 0 and norms[1, 0] == 0 and torch.equal(norms, norms.T) and not norms.diagonal().any()


def test_sign_and_errors():
    stats = fit_fdbd(F, W)
    far_from_boundary = Z[:1] * 3  # same direction, three times as far from every boundary through 0 (b = 0)
    s = fdbd_score(torch.cat([Z[:1], far_from_boundary]), torch.cat([Z[:1], far_from_boundary]) @ W.T,
                   stats['pair_norms'], distance_as_normalizer=False)
    torch.testing.assert_close(s[0], s[1])  # scale invariant with the ‖z‖ normaliser
    with pytest.raises(ValueError, match='needs the ID-train mean'):
        fdbd_score(Z, Z @ W.T, stats['pair_norms'])
    with pytest.raises(ValueError, match='do not fit'):
        fit_fdbd(F[:, :3], W)
