"""KL-Matching: the KL divergence of the softmax to the nearest class-mean softmax template.

D. Hendrycks, S. Basart, M. Mazeika, A. Zou, J. Kwon, M. Mostajabi, J. Steinhardt, D. Song, "Scaling
Out-of-Distribution Detection for Real-World Settings", ICML 2022, arXiv:1911.11132 (the KL-matching detector)::

    fit, on ID logits l_i:  ŷ_i = argmax_k l_ik,   d_k = mean_{i: ŷ_i = k} softmax(l_i)     (C, C) templates
                            a class no sample is predicted into gets the one-hot template e_k
    score:                  p = softmax(l),   S = −min_k KL(p ‖ d_k),   KL(p ‖ q) = Σ_j p_j log(p_j / q_j)

with the natural log, both distributions renormalised to sum 1 (scipy's ``entropy``, as OpenOOD v1.5's
``KLMatchingPostprocessor``); a term with p_j = 0 contributes 0 and a term with p_j > 0 = q_j makes that template's
divergence +∞. The minimum runs over **all** templates, not only the predicted class's. Vectorised::

    min_k KL(p ‖ d_k) = Σ_j p_j log p_j − max_k Σ_j p_j log d_kj

A softmax close to the typical softmax of the class it is predicted into is in-distribution, so the score is
**higher = more in-distribution**. No hyper-parameter (OpenOOD v1.5 searches nothing). OpenOOD fits the templates
on ID-val logits; mmood fits them on the ID-train set a config names (docs/klm.md).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from .logits import _check_logits

__all__ = ['klm_statistics', 'klm_templates', 'klm_fit', 'klm_score']


def klm_statistics(logits: Tensor, sums: Optional[Tensor] = None,
                   counts: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Per predicted class, the sum of the softmax rows (C, C) and their number (C,), float64, added to ``sums`` /
    ``counts`` when given (the fit in chunks of rows)."""
    logits = _check_logits(logits).to(torch.float64)
    num = logits.shape[1]
    probs = logits.softmax(dim=1)
    preds = probs.argmax(dim=1)
    if sums is None:
        sums = torch.zeros(num, num, dtype=torch.float64, device=logits.device)
        counts = torch.zeros(num, dtype=torch.float64, device=logits.device)
    if sums.shape != (num, num) or counts is None or counts.shape != (num, ):
        raise ValueError(f'KL-Matching: statistics of {num} classes expected, got sums {tuple(sums.shape)}')
    sums.index_add_(0, preds.to(sums.device), probs.to(sums.device))
    counts.index_add_(0, preds.to(counts.device), torch.ones_like(preds, dtype=torch.float64).to(counts.device))
    return sums, counts


def klm_templates(sums: Tensor, counts: Tensor) -> Tensor:
    """The templates d_k (C, C), float64: the mean softmax of the samples predicted into k, renormalised to sum 1;
    the one-hot e_k for a class no sample was predicted into."""
    sums, counts = sums.to(torch.float64), counts.to(torch.float64)
    eye = torch.eye(sums.shape[0], dtype=torch.float64, device=sums.device)
    templates = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], eye)
    return templates / templates.sum(dim=1, keepdim=True)


def klm_fit(logits: Tensor) -> Tensor:
    """The templates d_k (C, C) of ID logits (N, C) in one call (:func:`klm_statistics` + :func:`klm_templates`)."""
    return klm_templates(*klm_statistics(logits))


def klm_score(logits: Tensor, templates: Tensor) -> Tensor:
    """``−min_k KL(softmax(logits) ‖ d_k)`` per row (N,), computed in float64; −∞ when every template has a zero
    where p has mass.

    Raises:
        ValueError: logits not a floating (N, C) tensor, or templates not (C, C).
    """
    logits = _check_logits(logits).to(torch.float64)
    templates = torch.as_tensor(templates).to(device=logits.device, dtype=torch.float64)
    num = logits.shape[1]
    if templates.shape != (num, num):
        raise ValueError(f'KL-Matching: templates of shape ({num}, {num}) expected for {num} classes, got '
                         f'{tuple(templates.shape)}')
    templates = templates / templates.sum(dim=1, keepdim=True)
    probs = logits.softmax(dim=1)
    probs = probs / probs.sum(dim=1, keepdim=True)
    neg_entropy = torch.xlogy(probs, probs).sum(dim=1)  # Σ p log p, 0 log 0 = 0
    zero = templates <= 0
    cross = probs @ torch.where(zero, torch.zeros_like(templates), templates.log()).T  # Σ_j p_j log d_kj, finite part
    if bool(zero.any()):  # some p_j > 0 = d_kj: KL = +∞ for that template
        infinite = ((probs > 0).to(torch.float64) @ zero.to(torch.float64).T) > 0
        cross = cross.masked_fill(infinite, float('-inf'))
    return cross.max(dim=1).values - neg_entropy
