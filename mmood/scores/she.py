"""SHE: simplified Hopfield energy against the stored pattern of the predicted class.

J. Zhang, Q. Fu, X. Chen, L. Du, Z. Li, G. Wang, X. Liu, S. Han, D. Zhang, "Out-of-Distribution Detection based on
In-Distribution Data Patterns Memorization with Modern Hopfield Energy", ICLR 2023 (OpenReview KkazG4lgKL;
Sec. 3.2). Fitted on labelled ID-train features ``z_i`` with predictions ``argmax s(z_i)``::

    μ_k = mean { z_i : y_i = k and argmax s(z_i) = k }      the stored pattern of class k (correct samples only)
    S(z) = ⟨z, μ_ŷ⟩,    ŷ = argmax s(z)                     metric 'inner_product' (default)
    S(z) = −‖z − μ_ŷ‖                                       metric 'euclidean'
    S(z) = cos(z, μ_ŷ)                                      metric 'cosine' (0 for a zero vector)

**Higher = more in-distribution.** A class without a correctly classified ID-train sample has no pattern in OpenOOD
v1.5 (NaN, and every sample predicted into it scores NaN); here it falls back to the mean of the samples labelled k,
with a warning; a class with no labelled sample at all is an error. No hyper-parameter besides the metric (OpenOOD
v1.5: ``inner_product``, no search). Fits run in float64.
"""
import warnings

import torch
from torch import Tensor

__all__ = ['SHE_METRICS', 'fit_she', 'she_score']

SHE_METRICS = ('inner_product', 'euclidean', 'cosine')


def fit_she(feats: Tensor, labels: Tensor, preds: Tensor, num_classes: int) -> Tensor:
    """The (C, D) float64 patterns ``μ_k`` of labelled ID-train features ``feats`` (N, D) whose classifier
    predictions are ``preds`` (N,).

    Raises:
        ValueError: a class has no labelled sample, a label outside ``[0, C)``, or shapes that disagree.
    """
    if feats.ndim != 2 or labels.shape != (feats.shape[0], ) or preds.shape != labels.shape:
        raise ValueError(f'SHE: features {tuple(feats.shape)}, labels {tuple(labels.shape)} and predictions '
                         f'{tuple(preds.shape)} do not fit together')
    labels, preds = labels.to(device=feats.device, dtype=torch.long), preds.to(device=feats.device, dtype=torch.long)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f'SHE: labels must lie in [0, {num_classes}), got [{int(labels.min())}, '
                         f'{int(labels.max())}]')

    def class_means(mask: Tensor):
        x = feats[mask].to(torch.float64)
        sums = torch.zeros(num_classes, feats.shape[1], dtype=torch.float64, device=feats.device)
        sums.index_add_(0, labels[mask], x)
        counts = torch.bincount(labels[mask], minlength=num_classes)
        return sums / counts.clamp_min(1).unsqueeze(1).to(torch.float64), counts

    patterns, correct = class_means(labels == preds)
    missing = (correct == 0).nonzero().flatten().tolist()
    if missing:
        fallback, counts = class_means(torch.ones_like(labels, dtype=torch.bool))
        empty = [k for k in missing if int(counts[k]) == 0]
        if empty:
            raise ValueError(f'SHE: class(es) {empty[:10]}{" ..." if len(empty) > 10 else ""} have no ID-train '
                             f'sample: no pattern can be stored (fit on a set that covers every class)')
        warnings.warn(f'SHE: class(es) {missing[:10]}{" ..." if len(missing) > 10 else ""} have no correctly '
                      f'classified ID-train sample; their pattern is the mean of the samples labelled with them')
        patterns[missing] = fallback[missing]
    return patterns


def she_score(feats: Tensor, logits: Tensor, patterns: Tensor, metric: str = 'inner_product') -> Tensor:
    """SHE's score (N,) in float64 of features ``feats`` (N, D) with logits (N, C), against ``patterns`` (C, D).

    Raises:
        ValueError: an unknown ``metric``.
    """
    if metric not in SHE_METRICS:
        raise ValueError(f'SHE: metric must be one of {SHE_METRICS}, got {metric!r}')
    z = feats.to(torch.float64)
    mu = patterns.to(device=z.device, dtype=torch.float64)[logits.argmax(dim=1).to(z.device)]
    if metric == 'inner_product':
        return (z * mu).sum(dim=1)
    if metric == 'euclidean':
        return -(z - mu).norm(dim=1)
    return torch.cosine_similarity(z, mu, dim=1)
