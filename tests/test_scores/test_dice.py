"""DICE against OpenOOD v1.5's maths transcribed here (``DICEPostprocessor``: the mean of the ID-train features,
``contrib = mean[None, :] * w``, ``thresh = np.percentile(contrib, p)``, ``mask = contrib > thresh``, the masked
``vote.sum(2) + b``, the energy ``logsumexp``), and hand-checked values for 3 samples (4-d features, 3 classes, a
6-row ID-train set F) computed in float64 by an independent transcription."""
import numpy as np
import pytest
import torch

from mmood.scores import dice_mask, dice_mean, dice_score
from posthoc_cases import lse, B, F, W, Z


def openood_dice(feats: np.ndarray, w: np.ndarray, b: np.ndarray, train: np.ndarray, p: float) -> np.ndarray:
    """OpenOOD v1.5's DICE, transcribed: contribution mask over all C x D entries (strict >), masked vote, energy."""
    contrib = train.mean(0)[None, :] * w
    masked = w * (contrib > np.percentile(contrib, p))
    return lse((feats[:, None, :] * masked).sum(2) + b)


def test_vectors():
    mean = dice_mean(F)
    mask = dice_mask(mean, W, 50)
    assert mask.int().tolist() == [[1, 0, 0, 1], [0, 1, 1, 0], [1, 0, 1, 0]] and int(mask.sum()) == 6
    np.testing.assert_allclose(dice_score(Z, W, B, mean=mean, percentile=50).numpy(), [2.09887, 1.7802, 2.59589],
                               rtol=1e-5)


def test_against_openood_on_random_features():
    rng = np.random.default_rng(3)
    feats, train = rng.normal(size=(30, 64)), np.abs(rng.normal(size=(200, 64)))
    w, b = rng.normal(size=(10, 64)) * 0.1, rng.normal(size=10)
    mean = dice_mean(torch.from_numpy(train))
    for p in (50, 70, 90, 95):
        ours = dice_score(torch.from_numpy(feats), torch.from_numpy(w), torch.from_numpy(b), mean=mean, percentile=p)
        np.testing.assert_allclose(ours.numpy(), openood_dice(feats, w, b, train, p), rtol=1e-6)


def test_ties_at_the_threshold_are_dropped():
    w = torch.ones(2, 5, dtype=torch.float64)
    mean = torch.tensor([1.0, 1.0, 1.0, 2.0, 3.0], dtype=torch.float64)  # contributions 1 x 6, 2 x 2, 3 x 2
    mask = dice_mask(mean, w, 50)  # t = 1.0 (the 50th percentile of the 10 entries): the six 1's are not > t
    assert mask.int().tolist() == [[0, 0, 0, 1, 1]] * 2
    assert not dice_mask(torch.zeros(5, dtype=torch.float64), w, 0).any()  # all equal: nothing above t


def test_zero_features_and_normaliser():
    mean = dice_mean(F)
    zero = torch.zeros(1, 4, dtype=torch.float64)
    assert float(dice_score(zero, W, B, mean=mean, percentile=50)) == pytest.approx(float(torch.logsumexp(B, 0)))
    norm = torch.tensor([[2.0], [1.0], [4.0]], dtype=torch.float64)
    masked = W * dice_mask(mean, W, 50)
    expected = torch.logsumexp((Z @ masked.T + B) / norm, dim=1)
    np.testing.assert_allclose(dice_score(Z, W, B, norm, mean=mean, percentile=50).numpy(), expected.numpy(),
                               rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match=r'\[0, 100\)'):
        dice_mask(dice_mean(F), W, 100)
    with pytest.raises(ValueError, match='must agree'):
        dice_mask(torch.zeros(3, dtype=torch.float64), W, 50)
    with pytest.raises(ValueError, match='N > 0'):
        dice_mean(torch.zeros(0, 4))
