"""KL-Matching against OpenOOD v1.5's maths transcribed here (``KLMatchingPostprocessor``: softmax of ID logits,
argmax classes, the mean softmax per predicted class or a one-hot template for a class never predicted, then the
minimum over all templates of scipy's ``entropy(p, d_k)``, negated) and against test vectors computed in float64 by
an independent transcription: logits ``z @ W.T + b`` of 4-d features and 3 classes, templates fitted on 6 rows."""
import numpy as np
import pytest
import torch
from scipy.stats import entropy

from mmood.scores import klm_fit, klm_score, klm_statistics, klm_templates
from posthoc_cases import B, F, W, Z


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def openood_templates(val_logits: np.ndarray) -> np.ndarray:
    """OpenOOD v1.5's fit, transcribed: a Python loop over classes."""
    probs = softmax(val_logits)
    preds = probs.argmax(axis=1)
    out = []
    for k in range(val_logits.shape[1]):
        if (preds == k).any():
            out.append(probs[preds == k].mean(axis=0))
        else:
            out.append(np.eye(val_logits.shape[1])[k])
    return np.array(out)


def openood_klm(logits: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """OpenOOD v1.5's score, transcribed: -min over all templates of scipy's entropy(p, d_k)."""
    probs = softmax(logits)
    return np.array([-min(entropy(p, q) for q in templates) for p in probs])


def test_vectors():
    templates = klm_fit(F @ W.T + B)
    np.testing.assert_allclose(templates.numpy(), [[0.575883, 0.142549, 0.281568], [0.238162, 0.425161, 0.336677],
                                                   [0.245919, 0.238651, 0.515430]], rtol=1e-5)
    expected = [-0.0840743, -0.00946786, -0.0109218]
    np.testing.assert_allclose(klm_score(Z @ W.T + B, templates).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(klm_score((Z @ W.T + B).float(), templates.float()).numpy(), expected, rtol=1e-5)


def test_against_openood_on_random_logits():
    g = torch.Generator().manual_seed(0)
    val = torch.randn(300, 20, generator=g, dtype=torch.float64) * 3
    val[:, 15:] -= 20  # classes 15..19 are never predicted: one-hot templates
    test = torch.randn(100, 20, generator=g, dtype=torch.float64) * 3
    templates = klm_fit(val)
    ref_templates = openood_templates(val.numpy())
    np.testing.assert_allclose(templates.numpy(), ref_templates, rtol=1e-12, atol=1e-15)
    assert (templates[15:] == torch.eye(20, dtype=torch.float64)[15:]).all()
    np.testing.assert_allclose(klm_score(test, templates).numpy(), openood_klm(test.numpy(), ref_templates),
                               rtol=1e-6)


def test_fit_in_chunks_equals_one_fit():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(50, 7, generator=g)
    sums = counts = None
    for start in range(0, 50, 8):
        sums, counts = klm_statistics(logits[start:start + 8], sums, counts)
    torch.testing.assert_close(klm_templates(sums, counts), klm_fit(logits))
    assert float(counts.sum()) == 50


def test_zero_probabilities_and_infinite_templates():
    inf = float('-inf')
    templates = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]], dtype=torch.float64)
    logits = torch.tensor([[0.0, inf, inf],       # p = e_0: KL to e_0 is 0 (the p_j = 0 terms contribute 0)
                           [0.0, 0.0, inf],       # p = (1/2, 1/2, 0): infinite to e_0 and e_1, finite to d_2
                           [1.0, 2.0, 3.0]], dtype=torch.float64)
    got = klm_score(logits, templates).numpy()
    probs = torch.softmax(logits, dim=1).numpy()
    ref = np.array([-min(entropy(p, q) for q in templates.numpy()) for p in probs])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert got[0] == 0.0 and np.isfinite(got).all()
    # no template covers p's support: every divergence is +inf, the score -inf (scipy agrees)
    only_one_hot = torch.eye(3, dtype=torch.float64)
    assert klm_score(logits[1:2], only_one_hot).item() == inf == -min(entropy(probs[1], q) for q in np.eye(3))


def test_sign_and_errors():
    g = torch.Generator().manual_seed(2)
    val = torch.randn(200, 5, generator=g) * 4
    templates = klm_fit(val)
    typical = klm_score(torch.log(templates), templates)  # p equal to a template: KL 0, the highest score
    assert torch.allclose(typical, torch.zeros(5, dtype=torch.float64), atol=1e-12)
    assert (klm_score(val, templates) <= 1e-12).all()  # -KL <= 0: higher = closer to an ID template = more ID
    with pytest.raises(ValueError, match='templates of shape'):
        klm_score(val, templates[:4])
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        klm_score(val[0], templates)
