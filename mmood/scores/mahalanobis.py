"""Class-conditional Gaussian (Mahalanobis) and relative Mahalanobis OOD scores.

Papers:

* K. Lee, K. Lee, H. Lee, J. Shin, "A Simple Unified Framework for Detecting Out-of-Distribution Samples and
  Adversarial Attacks", NeurIPS 2018, arXiv:1807.03888.
* Relative Mahalanobis: J. Ren, S. Fort, J. Liu, A. G. Roy, S. Padhy, B. Lakshminarayanan, "A Simple Fix to
  Mahalanobis Distance for Improving Near-OOD Detection", arXiv:2106.09022 (2021).

Formulas, with class means ``mu_c``, a shared precision ``P = Sigma^-1``, and a background Gaussian fitted to all
training features (mean ``mu_g``, precision ``P_g``)::

    d_c(x)   = (x - mu_c)^T P (x - mu_c)
    d_g(x)   = (x - mu_g)^T P_g (x - mu_g)
    S(x)     = - min_c d_c(x)
    S_rel(x) = - min_c (d_c(x) - d_g(x))

Covariance estimators (:func:`fit_gaussians`):

* ``'pooled'``: within-class scatter summed over classes divided by ``N`` -- the maximum-likelihood estimator
  of Lee et al., of the relative-Mahalanobis paper and of OpenOOD's ``EmpiricalCovariance`` (MDS / RMDS).
* ``'mean_per_class'`` (PLP, Adaloglou et al., TMLR 2024, arXiv:2303.05828): the unweighted mean of the per-class
  unbiased covariances; classes with at most one sample are skipped (PLP's own estimator, kept for parity).

The background covariance is the maximum-likelihood covariance of all features (divided by ``N``). The
normalisation matters for the *relative* score: dividing the class covariance by ``N - C`` and the background one
by ``N - 1`` (an earlier mmood version) scales the two distances differently, which changes the ranking
(see tests/test_scores/test_mahalanobis.py); dividing both by ``N`` is what the RMD paper and OpenOOD do. Fitting runs
in float64. Before inversion each covariance is shrunk, ``Sigma + shrinkage * (trace(Sigma) / D) * I``, so a singular
covariance (e.g. ``D > N``) still yields a finite precision matrix. Classes without training samples are flagged in
``class_mask`` and ignored by the score (e.g. PLP's classes that never receive a pseudo-label).

Sign: **higher = more in-distribution** (the scores are negated distances).
"""
from typing import Dict, Optional

import torch
from torch import Tensor

from .mcm import _upcast

__all__ = ['fit_gaussians', 'mahalanobis_score']

_COVARIANCES = ('pooled', 'mean_per_class')
_GAUSSIAN_KEYS = ('means', 'precision', 'class_mask', 'global_mean', 'global_precision')


def _shrunk_inverse(cov: Tensor, shrinkage: float) -> Tensor:
    """Invert ``cov + shrinkage * (trace(cov) / D) * I`` (pseudo-inverse if still singular)."""
    dim = cov.shape[0]
    sym = 0.5 * (cov + cov.T)
    scale = float(torch.diagonal(sym).sum()) / dim
    if not scale > 0.0:
        scale = 1.0
    eye = torch.eye(dim, dtype=sym.dtype, device=sym.device)
    mat = sym + (shrinkage * scale) * eye
    chol, info = torch.linalg.cholesky_ex(mat)
    if int(info) == 0:
        inv = torch.cholesky_inverse(chol)
    else:
        inv = torch.linalg.pinv(mat, hermitian=True)
    return 0.5 * (inv + inv.T)


def fit_gaussians(feats: Tensor,
                  labels: Tensor,
                  num_classes: Optional[int] = None,
                  covariance: str = 'pooled',
                  shrinkage: float = 1e-6) -> Dict[str, Tensor]:
    """Fit class-conditional Gaussians with a shared covariance, plus a background Gaussian.

    Args:
        feats (Tensor): Training features, shape ``(N, D)``.
        labels (Tensor): Integer class labels in ``[0, num_classes)``, shape ``(N,)``.
        num_classes (int, optional): Number of classes ``C``. Defaults to ``labels.max() + 1``.
        covariance (str): ``'pooled'`` (pooled within-class covariance, divided by N) or ``'mean_per_class'``
            (unweighted mean of per-class unbiased covariances, classes with <= 1 sample skipped).
            Defaults to ``'pooled'``.
        shrinkage (float): Relative ridge added before inversion, ``shrinkage * trace(Sigma) / D`` on the
            diagonal. Use 0 for the exact inverse of a non-singular covariance. Defaults to 1e-6.

    Returns:
        dict: float64 tensors on the device of ``feats``:

        * ``means`` (C, D): class means (zero rows for classes without samples);
        * ``precision`` (D, D): inverse of the shared (shrunk) covariance (maximum likelihood for ``'pooled'``);
        * ``class_mask`` (C,) bool: True for classes with at least one sample;
        * ``global_mean`` (D,): mean of all features;
        * ``global_precision`` (D, D): inverse of the (shrunk) maximum-likelihood covariance of all features.

    Raises:
        ValueError: On malformed inputs, labels outside ``[0, C)``, an unknown covariance mode, a negative
            shrinkage, or too few samples to estimate the covariance.
    """
    if not isinstance(feats, Tensor) or not isinstance(labels, Tensor):
        raise ValueError('feats and labels must be torch.Tensors.')
    if feats.ndim != 2 or not feats.is_floating_point():
        raise ValueError(f'feats must be a floating tensor of shape (N, D), got {tuple(feats.shape)} '
                         f'({feats.dtype}).')
    if labels.ndim != 1 or labels.shape[0] != feats.shape[0]:
        raise ValueError(f'labels must have shape (N,) = ({feats.shape[0]},), got {tuple(labels.shape)}.')
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f'labels must be an integer tensor, got dtype {labels.dtype}.')
    if covariance not in _COVARIANCES:
        raise ValueError(f'Unknown covariance {covariance!r}; valid options are {_COVARIANCES}.')
    shrinkage = float(shrinkage)
    if not shrinkage >= 0.0:
        raise ValueError(f'shrinkage must be >= 0, got {shrinkage!r}.')
    num, dim = feats.shape
    if num < 2:
        raise ValueError(f'At least 2 samples are needed to fit Gaussians, got {num}.')
    labels = labels.to(device=feats.device, dtype=torch.long)
    if int(labels.min()) < 0:
        raise ValueError(f'labels must be non-negative, got min label {int(labels.min())}.')
    max_label = int(labels.max())
    if num_classes is None:
        num_classes = max_label + 1
    num_classes = int(num_classes)
    if max_label >= num_classes:
        raise ValueError(f'labels must be < num_classes ({num_classes}), got max label {max_label}.')

    x = feats.detach().to(torch.float64)
    counts = torch.bincount(labels, minlength=num_classes)
    class_mask = counts > 0
    sums = torch.zeros(num_classes, dim, dtype=torch.float64, device=x.device).index_add_(0, labels, x)
    means = sums / counts.clamp_min(1).to(torch.float64)[:, None]
    centered = x - means[labels]

    if covariance == 'pooled':
        if num <= int(class_mask.sum()):
            raise ValueError('The pooled covariance needs more samples than present classes '
                             f'(N = {num}, classes present = {int(class_mask.sum())}).')
        cov = centered.T @ centered / num
    else:
        valid = counts >= 2
        num_valid = int(valid.sum())
        if num_valid == 0:
            raise ValueError("covariance='mean_per_class' needs at least one class with >= 2 samples.")
        # weight each row by 1 / (n_c - 1) of its class (0 for skipped classes), then average over classes
        class_weight = torch.where(valid, 1.0 / (counts.to(torch.float64) - 1.0).clamp_min(1.0),
                                   torch.zeros((), dtype=torch.float64, device=x.device))
        row_weight = class_weight[labels]
        cov = (centered * row_weight[:, None]).T @ centered / num_valid

    global_mean = x.mean(dim=0)
    g_centered = x - global_mean
    global_cov = g_centered.T @ g_centered / num

    return dict(
        means=means,
        precision=_shrunk_inverse(cov, shrinkage),
        class_mask=class_mask,
        global_mean=global_mean,
        global_precision=_shrunk_inverse(global_cov, shrinkage))


def mahalanobis_score(x: Tensor,
                      gaussians: Dict[str, Tensor],
                      relative: bool = False,
                      chunk_size: int = 8192) -> Tensor:
    """Compute the (relative) Mahalanobis score ``-min_c d_c(x)`` (``-min_c (d_c(x) - d_g(x))``).

    Distances are computed in float64, in chunks of ``chunk_size`` rows, as
    ``x^T P x - 2 x^T P mu_c + mu_c^T P mu_c`` after centring on the global mean (better conditioned). The (N, C)
    matrix is formed once, by the matrix product itself (``addmm`` adds ``mu_c^T P mu_c``), and read once by the
    minimum; the per-row terms ``x^T P x`` and ``d_g`` do not depend on the class, so they are added after it
    (``min_c (d_c - d_g) = min_c d_c - d_g``). Rounding-level negative distances are clamped to 0.

    Args:
        x (Tensor): Test features, shape ``(N, D)``.
        gaussians (dict): Output of :func:`fit_gaussians`.
        relative (bool): Subtract the background distance ``d_g`` (Ren et al.). Defaults to False.
        chunk_size (int): Rows per chunk. Defaults to 8192.

    Returns:
        Tensor: Scores of shape ``(N,)``, float32 (float64 if ``x`` is float64). Higher = more ID.

    Raises:
        ValueError: On malformed inputs, a dictionary without the expected keys, mismatched feature sizes,
            no class with samples, or a non-positive ``chunk_size``.
    """
    if not isinstance(x, Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise ValueError('x must be a floating torch.Tensor of shape (N, D).')
    if not isinstance(gaussians, dict) or any(key not in gaussians for key in _GAUSSIAN_KEYS):
        raise ValueError(f'gaussians must be the dict returned by fit_gaussians with keys {_GAUSSIAN_KEYS}.')
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}.')
    device = x.device
    f64 = torch.float64
    means = gaussians['means'].to(device=device, dtype=f64)
    precision = gaussians['precision'].to(device=device, dtype=f64)
    class_mask = gaussians['class_mask'].to(device=device, dtype=torch.bool)
    global_mean = gaussians['global_mean'].to(device=device, dtype=f64)
    global_precision = gaussians['global_precision'].to(device=device, dtype=f64)
    dim = x.shape[1]
    if means.ndim != 2 or means.shape[1] != dim or precision.shape != (dim, dim) \
            or global_precision.shape != (dim, dim) or global_mean.shape != (dim, ) \
            or class_mask.shape != (means.shape[0], ):
        raise ValueError(f'gaussians do not match features of size D = {dim} (means {tuple(means.shape)}, '
                         f'precision {tuple(precision.shape)}).')
    if not bool(class_mask.any()):
        raise ValueError('gaussians contain no class with samples (class_mask is all False).')

    mu = means[class_mask] - global_mean  # (C_present, D), centred
    mu_p = mu @ precision
    mu_term = (mu_p * mu).sum(dim=1)  # (C_present,)
    out_dtype = _upcast(x).dtype

    scores = []
    for start in range(0, x.shape[0], chunk_size):
        xc = torch.sub(x[start:start + chunk_size].to(f64), global_mean)
        quad = (xc @ precision).mul_(xc).sum(dim=1)  # x^T P x per row
        nearest = torch.addmm(mu_term[None, :], xc, mu_p.T, alpha=-2.0).amin(dim=1)  # min_c (mu^T P mu - 2 x^T P mu)
        dist = (quad + nearest).clamp_min(0.0)
        if relative:
            dist = dist - (xc @ global_precision).mul_(xc).sum(dim=1).clamp_min(0.0)
        scores.append(-dist)
    if not scores:
        return torch.zeros(0, dtype=out_dtype, device=device)
    return torch.cat(scores).to(out_dtype)
