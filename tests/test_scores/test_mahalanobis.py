"""Mahalanobis and relative Mahalanobis: vector N11 (ID local to this module: two 2-D classes of four
points, the second shifted by +10 in x) and numpy cross-checks."""
import numpy as np
import pytest
import torch

from mmood.scores.mahalanobis import fit_gaussians, mahalanobis_score


def _n11():
    base = torch.tensor([[0, 0], [2, 0], [0, 2], [2, 2]], dtype=torch.float64)
    feats = torch.cat([base, base + torch.tensor([10.0, 0.0], dtype=torch.float64)])
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    queries = torch.tensor([[1, 1], [6, 1], [11, 3]], dtype=torch.float64)
    return feats, labels, queries


# N11 with maximum-likelihood covariances: pooled class Σ = I, background Σ0 = diag(26, 1).
# PLP's 'mean_per_class' keeps per-class unbiased covariances: Σ = 4/3 I.
N11 = dict(pooled=dict(precision=1.0, maha=[-0.0, -25.0, -4.0], rmd=[0.961538, -25.0, 0.961538]),
           mean_per_class=dict(precision=0.75, maha=[-0.0, -18.75, -3.0], rmd=[0.961538, -18.75, 1.961538]))


@pytest.mark.parametrize('covariance', ['pooled', 'mean_per_class'])
def test_n11(covariance):
    want = N11[covariance]
    feats, labels, queries = _n11()
    gauss = fit_gaussians(feats, labels, covariance=covariance, shrinkage=0.0)
    np.testing.assert_allclose(gauss['precision'].numpy(), np.eye(2) * want['precision'], atol=1e-12)
    np.testing.assert_allclose(gauss['global_precision'].numpy(), np.diag([1 / 26, 1.0]), atol=1e-12)
    np.testing.assert_allclose(gauss['means'].numpy(), [[1, 1], [11, 1]], atol=1e-12)
    np.testing.assert_allclose(mahalanobis_score(queries, gauss).numpy(), want['maha'], atol=1e-6)
    np.testing.assert_allclose(mahalanobis_score(queries, gauss, relative=True).numpy(), want['rmd'], atol=1e-6)
    # the default shrinkage (ridge of 1e-6 * trace / D) perturbs the values only slightly
    gauss_default = fit_gaussians(feats, labels, covariance=covariance)
    np.testing.assert_allclose(mahalanobis_score(queries, gauss_default, relative=True).numpy(), want['rmd'],
                               rtol=1e-4, atol=1e-4)
    # float32 queries give float32 scores
    out = mahalanobis_score(queries.float(), gauss)
    assert out.dtype == torch.float32


def _numpy_reference(x, feats, labels, covariance, relative):
    classes = np.unique(labels)
    means = np.stack([feats[labels == c].mean(0) for c in classes])
    if covariance == 'pooled':
        centred = feats - means[np.searchsorted(classes, labels)]
        cov = centred.T @ centred / len(feats)  # maximum likelihood
    else:
        covs = [np.cov(feats[labels == c], rowvar=False) for c in classes if (labels == c).sum() > 1]
        cov = np.mean(covs, axis=0)
    prec = np.linalg.inv(cov)
    diff = x[:, None, :] - means[None]
    dist = np.einsum('ncd,de,nce->nc', diff, prec, diff)
    if relative:
        gprec = np.linalg.inv(np.cov(feats, rowvar=False, bias=True))  # maximum likelihood
        gdiff = x - feats.mean(0)
        dist = dist - np.einsum('nd,de,ne->n', gdiff, gprec, gdiff)[:, None]
    return -dist.min(1)


@pytest.mark.parametrize('covariance', ['pooled', 'mean_per_class'])
@pytest.mark.parametrize('relative', [False, True])
def test_random_against_numpy(covariance, relative):
    rng = np.random.default_rng(0)
    counts = [7, 12, 1, 9]  # class 2 has one sample: skipped by 'mean_per_class', used for its mean
    labels = np.repeat(np.arange(4), counts)
    feats = rng.normal(size=(len(labels), 5)) + 3 * rng.normal(size=(4, 5))[labels]
    x = rng.normal(size=(11, 5)) * 2
    gauss = fit_gaussians(torch.from_numpy(feats), torch.from_numpy(labels), covariance=covariance, shrinkage=0.0)
    out = mahalanobis_score(torch.from_numpy(x), gauss, relative=relative, chunk_size=4)
    np.testing.assert_allclose(out.numpy(), _numpy_reference(x, feats, labels, covariance, relative), rtol=1e-9)
    # float32 features give the same numbers to fp32 precision (fitting is float64 internally)
    gauss32 = fit_gaussians(torch.from_numpy(feats).float(), torch.from_numpy(labels), covariance=covariance,
                            shrinkage=0.0)
    out32 = mahalanobis_score(torch.from_numpy(x).float(), gauss32, relative=relative)
    np.testing.assert_allclose(out32.numpy(), out.numpy(), rtol=1e-4, atol=1e-4)


def test_singular_covariance_is_finite():
    rng = np.random.default_rng(1)
    feats = torch.from_numpy(rng.normal(size=(6, 20)))  # D = 20 > N = 6
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    for covariance in ('pooled', 'mean_per_class'):
        gauss = fit_gaussians(feats, labels, covariance=covariance)
        assert torch.isfinite(gauss['precision']).all() and torch.isfinite(gauss['global_precision']).all()
        x = torch.from_numpy(rng.normal(size=(4, 20)))
        for relative in (False, True):
            out = mahalanobis_score(x, gauss, relative=relative)
            assert torch.isfinite(out).all()
        # training points score higher (closer) than far-away points
        assert mahalanobis_score(feats[:1], gauss) > mahalanobis_score(100 * x[:1], gauss)
    # even zero shrinkage falls back to a pseudo-inverse instead of failing
    gauss = fit_gaussians(feats, labels, shrinkage=0.0)
    assert torch.isfinite(mahalanobis_score(feats, gauss)).all()


def test_empty_class_is_ignored():
    feats, labels, queries = _n11()
    labels_gap = labels.clone()
    labels_gap[labels == 1] = 3  # classes 1 and 2 have no samples
    gauss = fit_gaussians(feats, labels_gap, num_classes=5, shrinkage=0.0)
    np.testing.assert_array_equal(gauss['class_mask'].numpy(), [True, False, False, True, False])
    assert gauss['means'].shape == (5, 2)
    # empty classes have zero means, which would be the nearest "class" for (1, 1) if they were used
    np.testing.assert_allclose(mahalanobis_score(queries, gauss).numpy(), [-0.0, -25.0, -4.0], atol=1e-6)
    np.testing.assert_allclose(mahalanobis_score(torch.zeros(1, 2, dtype=torch.float64), gauss).numpy(), [-2.0],
                               atol=1e-12)


def test_pooled_is_maximum_likelihood():
    """Pooled Σ and background Σ0 are divided by N (RMD paper, OpenOOD): the unbiased N - C / N - 1 pair scales the
    two distances differently, which changes the ranking of the relative score (N11 above: 0.84 / 1.34 -> 0.96 /
    0.96 for its first and last query)."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 10)
    feats = rng.normal(size=(30, 4))
    x = rng.normal(size=(8, 4))
    gauss = fit_gaussians(torch.from_numpy(feats), torch.from_numpy(labels), shrinkage=0.0)
    out = mahalanobis_score(torch.from_numpy(x), gauss).numpy()
    means = np.stack([feats[labels == c].mean(0) for c in range(3)])
    centred = feats - means[labels]
    diff = x[:, None, :] - means[None]
    ml = -np.einsum('ncd,de,nce->nc', diff, np.linalg.inv(centred.T @ centred / 30), diff).min(1)
    np.testing.assert_allclose(out, ml, rtol=1e-9)
    unbiased = -np.einsum('ncd,de,nce->nc', diff, np.linalg.inv(centred.T @ centred / 27), diff).min(1)
    np.testing.assert_allclose(out / unbiased, 30 / 27, rtol=1e-9)


def test_bad_inputs():
    feats, labels, queries = _n11()
    with pytest.raises(ValueError, match='Unknown covariance'):
        fit_gaussians(feats, labels, covariance='full')
    with pytest.raises(ValueError, match='labels must be < num_classes'):
        fit_gaussians(feats, labels, num_classes=1)
    with pytest.raises(ValueError, match='labels must have shape'):
        fit_gaussians(feats, labels[:3])
    with pytest.raises(ValueError, match='shrinkage'):
        fit_gaussians(feats, labels, shrinkage=-1.0)
    with pytest.raises(ValueError, match='more samples than present classes'):
        fit_gaussians(feats[:2], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='at least one class with >= 2 samples'):
        fit_gaussians(feats[:2], torch.tensor([0, 1]), covariance='mean_per_class')
    gauss = fit_gaussians(feats, labels)
    with pytest.raises(ValueError, match='do not match'):
        mahalanobis_score(torch.zeros(2, 3), gauss)
    with pytest.raises(ValueError, match='keys'):
        mahalanobis_score(queries, {'means': gauss['means']})
