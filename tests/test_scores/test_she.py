"""SHE against OpenOOD v1.5's ``SHEPostprocessor`` maths transcribed here (class means of the correctly classified
ID-train features, ``distance(feature, pattern[pred], metric)``) on random features, and against test vectors
computed in float64 by an independent transcription: 3 query features of dimension 4, a 3-class head
``z @ W.T + b``, 6 labelled ID-train features whose last one (label 2, predicted 0) is dropped from the patterns.
Edge case: classes without a correct ID-train sample (OpenOOD: NaN patterns) take the mean of their labelled
samples, with a warning; a class without any sample is an error."""
import numpy as np
import pytest
import torch

from mmood.scores import fit_she, she_score
from posthoc_cases import B, F, LABELS, W, Z


def openood_she(train, labels, test, w, b, num_classes, metric):
    """OpenOOD v1.5's SHE, transcribed (setup + postprocess, ``distance``)."""
    preds = (train @ w.T + b).argmax(1)
    patterns = []
    for i in range(num_classes):
        mask = torch.logical_and(labels == i, preds == i)
        patterns.append(train[mask].mean(0, keepdim=True))
    patterns = torch.cat(patterns)
    target = patterns[(test @ w.T + b).argmax(1)]
    if metric == 'inner_product':
        return torch.sum(torch.mul(test, target), dim=1)
    if metric == 'euclidean':
        return -torch.sqrt(torch.sum((test - target) ** 2, dim=1))
    return torch.cosine_similarity(test, target, dim=1)


def fit_and_score(train, labels, test, w, b, metric='inner_product'):
    patterns = fit_she(train, labels, (train @ w.T + b).argmax(1), w.shape[0])
    return she_score(test, test @ w.T + b, patterns, metric), patterns


def test_vectors():
    score, patterns = fit_and_score(F, LABELS, Z, W, B)
    np.testing.assert_allclose(score.numpy(), [2.665, 1.4825, 3.81], rtol=1e-6)
    np.testing.assert_allclose(patterns[0].numpy(), [0.9, 0.15, 0.4, 1.05], rtol=1e-12)
    assert torch.equal(patterns[2], F[4])  # F row 5 is predicted 0: dropped


@pytest.mark.parametrize('metric', ['inner_product', 'euclidean', 'cosine'])
def test_against_openood_on_random_features(metric):
    g = torch.Generator().manual_seed(1)
    train = torch.randn(400, 12, generator=g, dtype=torch.float64)
    test = torch.randn(50, 12, generator=g, dtype=torch.float64)
    w, b = torch.randn(4, 12, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)
    labels = (train @ w.T + b + torch.randn(400, 4, generator=g, dtype=torch.float64)).argmax(1)  # some wrong
    score, _ = fit_and_score(train, labels, test, w, b, metric)
    np.testing.assert_allclose(score.numpy(), openood_she(train, labels, test, w, b, 4, metric).numpy(), rtol=1e-6)


def test_fallback_and_errors():
    fe, be = F[[0, 2, 4]], torch.tensor([0.1, 0.1, 0.05], dtype=torch.float64)
    preds = (fe @ W.T + be).argmax(1)
    assert preds.tolist() == [0, 1, 2]
    with pytest.warns(UserWarning, match=r'class\(es\) \[0, 1\] have no correctly classified'):
        patterns = fit_she(fe, torch.tensor([1, 0, 2]), preds, 3)
    # the mean of the samples labelled k (one each here); OpenOOD gives NaN patterns
    assert torch.equal(patterns, torch.stack([fe[1], fe[0], fe[2]]))
    assert torch.isnan(openood_she(fe, torch.tensor([1, 0, 2]), Z, W, be, 3, 'inner_product')).any()
    with pytest.raises(ValueError, match=r'class\(es\) \[1\] have no ID-train sample'):
        fit_she(fe, torch.tensor([0, 0, 2]), preds, 3)
    with pytest.raises(ValueError, match='labels must lie in'):
        fit_she(fe, torch.tensor([0, 3, 2]), preds, 3)
    with pytest.raises(ValueError, match='metric'):
        she_score(Z, Z @ W.T, patterns, 'manhattan')


def test_sign_and_zero_vector():
    patterns = torch.eye(3, 4, dtype=torch.float64)
    logits = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    z = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.1, 0.0, 0.0, 0.0]], dtype=torch.float64)
    s = she_score(z, logits, patterns)
    assert s[0] > s[1]  # a stronger match of the stored pattern = more ID
    assert float(she_score(torch.zeros(1, 4, dtype=torch.float64), logits[:1], patterns, 'cosine')) == 0.0
