"""KNN score: vector N12 (ID local to this module: a bank of unit vectors at 0°, 90°, 180°, 270°), chunking, and numpy
cross-checks."""
import numpy as np
import pytest
import torch

from mmood.scores.knn import knn_score


def _unit_np(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _n12():
    ang = np.deg2rad([0.0, 90.0, 180.0, 270.0])
    bank = torch.from_numpy(np.stack([np.cos(ang), np.sin(ang)], axis=1))
    query = torch.tensor([[np.cos(np.pi / 4), np.sin(np.pi / 4)]], dtype=torch.float64)
    return query, bank


def test_n12():
    query, bank = _n12()
    np.testing.assert_allclose(knn_score(query, bank, k=2).numpy(), [-0.585786], atol=1e-6)
    np.testing.assert_allclose(knn_score(query, bank, k=3).numpy(), [-3.414214], atol=1e-6)
    # scaling rows does not matter when normalising; bank chunking of one row at a time gives the same
    np.testing.assert_allclose(
        knn_score(3 * query, 0.5 * bank, k=3, chunk_size=1, bank_chunk_size=1).numpy(), [-3.414214], atol=1e-6)
    # fp32
    out = knn_score(query.float(), bank.float(), k=2)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [-0.585786], atol=1e-6)


def _random(n=37, m=53, d=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    query = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return query, torch.randn(m, d, generator=gen, dtype=torch.float64)


def test_distance_matches_numpy():
    query, bank = _random()
    q, b = _unit_np(query.numpy()), _unit_np(bank.numpy())
    sqdist = ((q[:, None, :] - b[None, :, :])**2).sum(-1)
    for k in (1, 5, 53):
        expected = -np.sort(sqdist, axis=1)[:, k - 1]
        np.testing.assert_allclose(knn_score(query, bank, k=k).numpy(), expected, rtol=1e-9, atol=1e-12)


def test_distance_unnormalized_matches_numpy():
    query, bank = _random(seed=1)
    sqdist = ((query.numpy()[:, None, :] - bank.numpy()[None, :, :])**2).sum(-1)
    expected = -np.sort(sqdist, axis=1)[:, 4]
    out = knn_score(query, bank, k=5, normalize=False, chunk_size=8, bank_chunk_size=7)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_exp_cos_matches_numpy():
    query, bank = _random(seed=2)
    cos = _unit_np(query.numpy()) @ _unit_np(bank.numpy()).T
    for k, t in ((1, 0.02), (7, 0.02), (10, 0.5)):
        expected = np.exp(-np.sort(-cos, axis=1)[:, :k] / t).mean(axis=1)
        out = knn_score(query, bank, k=k, form='exp_cos', temperature=t)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9)
        chunked = knn_score(query, bank, k=k, form='exp_cos', temperature=t, chunk_size=3, bank_chunk_size=4)
        np.testing.assert_allclose(chunked.numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize('chunk_size,bank_chunk_size', [(1, 1), (5, 3), (16, 50), (4096, 2), (7, 16384)])
def test_chunked_equals_unchunked(chunk_size, bank_chunk_size):
    query, bank = _random(n=40, m=60, d=5, seed=3)
    query, bank = query.float(), bank.float()
    full = knn_score(query, bank, k=10)
    chunked = knn_score(query, bank, k=10, chunk_size=chunk_size, bank_chunk_size=bank_chunk_size)
    np.testing.assert_allclose(chunked.numpy(), full.numpy(), rtol=1e-6, atol=1e-6)


def test_duplicates_and_half_inputs():
    query, bank = _random(n=5, m=20, seed=4)
    # a query that is in the bank has distance 0 to its first neighbour (never negative)
    out = knn_score(bank[:5], bank, k=1)
    assert (out <= 0).all()
    np.testing.assert_allclose(out.numpy(), 0.0, atol=1e-12)
    out = knn_score(query.half(), bank.half(), k=3)
    assert out.dtype == torch.float32
    ref = knn_score(query.half().double(), bank.half().double(), k=3)
    np.testing.assert_allclose(out.double().numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_bad_inputs():
    query, bank = _n12()
    with pytest.raises(ValueError, match='k must be in'):
        knn_score(query, bank, k=5)
    with pytest.raises(ValueError, match='k must be in'):
        knn_score(query, bank, k=0)
    with pytest.raises(ValueError, match='Unknown form'):
        knn_score(query, bank, k=1, form='cosine')
    with pytest.raises(ValueError, match='Feature sizes differ'):
        knn_score(query, torch.zeros(4, 3, dtype=torch.float64), k=1)
    with pytest.raises(ValueError, match='chunk_size'):
        knn_score(query, bank, k=1, chunk_size=0)
    with pytest.raises(ValueError, match='temperature'):
        knn_score(query, bank, k=1, form='exp_cos', temperature=0.0)
