"""NNGuide against OpenOOD v1.5's ``NNGuidePostprocessor`` maths transcribed here (``normalizer`` =
``x / ‖x‖ + 1e-10``, bank ``normalizer(z_i) · lse(s_i)``, an exact inner-product top-K in place of faiss'
``IndexFlatIP``, the mean of the K similarities times the query's energy) on random features, and against test
vectors computed in float64 by an independent transcription: 3 query features of dimension 4, a 3-class head
``z @ W.T + b``, the 6 ID-train features as the bank, K = 2. Edge case: a zero query scores 0 (OpenOOD: NaN)."""
import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from mmood.scores import nnguide_bank, nnguide_score, nnguide_subset
from posthoc_cases import B, F, W, Z


def openood_nnguide(bank: np.ndarray, test: np.ndarray, w: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """OpenOOD v1.5's NNGuide, transcribed (setup on the given bank rows + postprocess + ``knn_score``)."""
    def normalizer(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10

    guide = normalizer(bank) * logsumexp(bank @ w.T + b, axis=-1)[:, None]
    sims = normalizer(test) @ guide.T  # IndexFlatIP: exact inner products, the k largest
    conf = np.sort(sims, axis=1)[:, ::-1][:, :k].mean(axis=1)
    return conf * logsumexp(test @ w.T + b, axis=-1)


def bank_of(x, w, b):
    return nnguide_bank(x, torch.logsumexp(x @ w.T + b, dim=1))


def test_vectors():
    score = nnguide_score(Z, Z @ W.T + B, bank_of(F, W, B), k=2)
    np.testing.assert_allclose(score.numpy(), [3.28556, 2.67803, 4.43686], rtol=1e-5)
    # zero query: unit(0) = 0, score 0 (OpenOOD's normaliser divides 0 by 0)
    ze = torch.tensor([[0, 0, 0, 0], [0.5, 0.1, 0.2, 1.0], [1.0, 0.3, 0.8, 0.0]], dtype=torch.float64)
    be = torch.tensor([0.1, 0.1, 0.05], dtype=torch.float64)
    score = nnguide_score(ze, ze @ W.T + be, bank_of(F[[0, 2, 4]], W, be), k=2)
    np.testing.assert_allclose(score.numpy(), [0.0, 2.13184, 2.31744], rtol=1e-5)
    with np.errstate(invalid='ignore', divide='ignore'):
        assert np.isnan(openood_nnguide(F[[0, 2, 4]].numpy(), ze.numpy(), W.numpy(), be.numpy(), 2)[0])


@pytest.mark.parametrize('k', [1, 10, 60])
def test_against_openood_on_random_features(k):
    g = torch.Generator().manual_seed(k)
    bank = torch.randn(60, 16, generator=g, dtype=torch.float64)
    test = torch.randn(30, 16, generator=g, dtype=torch.float64)
    w, b = torch.randn(7, 16, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64)
    score = nnguide_score(test, test @ w.T + b, bank_of(bank, w, b), k)
    np.testing.assert_allclose(score.numpy(), openood_nnguide(bank.numpy(), test.numpy(), w.numpy(), b.numpy(), k),
                               rtol=1e-6)


def test_subset():
    first = nnguide_subset(1000, 0.01, seed=3)
    assert first.numel() == 10 and torch.equal(first, nnguide_subset(1000, 0.01, seed=3))  # seeded
    assert not torch.equal(first, nnguide_subset(1000, 0.01, seed=4))
    assert torch.equal(first, first.sort().values) and first.unique().numel() == 10
    assert nnguide_subset(250, 0.01).numel() == 2  # round(2.5): half to even
    assert nnguide_subset(1000, 0.01, bank_size=37).numel() == 37
    # OpenOOD's loader prefix: (floor(floor(alpha N) / B) + 1) * B leading rows, at most N
    assert torch.equal(nnguide_subset(1281167, 0.01, policy='loader_prefix'), torch.arange(13000))
    assert torch.equal(nnguide_subset(6, 0.01, policy='loader_prefix'), torch.arange(6))
    with pytest.raises(ValueError, match='bank would hold 0 of the 6'):
        nnguide_subset(6, 0.01)
    with pytest.raises(ValueError, match='bank policy'):
        nnguide_subset(6, 0.5, policy='first')


def test_sign_and_errors():
    bank = bank_of(F, W, B)
    logits = torch.ones(2, 3, dtype=torch.float64)
    near, far = F[:1], torch.tensor([[-1.0, -0.2, -0.3, -1.2]], dtype=torch.float64)
    s = nnguide_score(torch.cat([near, far]), logits, bank, k=2)
    assert s[0] > s[1]  # close to the ID bank = more ID
    with pytest.raises(ValueError, match='k=7 but the bank holds 6'):
        nnguide_score(Z, Z @ W.T, bank, k=7)
