"""NPOS building blocks (mmood.models.losses.npos): k-NN distances, boundary points, outlier synthesis with the
corrected and the reference rejection, the queue module (FIFO ring buffer, per-class gate, resumable draws) and
the two losses. Hand vectors (IDs local to this module): N1 boundary selection on six points of R², N2
candidates and rejection, N3 queue semantics, N4 LogitNorm invariance; everything else against direct numpy float64
loops."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmood.models.losses import (LogitNormLoss, NPOSOutlierSynthesis, OutlierRegLoss, boundary_points,
                                 kth_neighbour_sqdist, outliers_around, step_seed, synthesize)
from mmood.utils.errors import ConfigError
from mmpretrain.registry import MODELS

N1_DELTA = [0.0303845, 0.0303845, 0.0303845, 0.0303845, 1.0, 2.0]
N2_NOISE = [(0, 1), (1, 0), (0.5, -1)]
N2_CANDIDATES = [(-2, 0.5), (-1.5, 0), (-1.75, -0.5), (0, 3.5), (0.5, 3), (0.25, 2.5)]
N2_DELTA = [1.514929, 2.0, 2.549442, 1.0, 0.728859, 0.832617]


def n1_bank(dtype=torch.float64) -> torch.Tensor:
    """N1: (angle, norm) = (0°,1), (10°,2), (20°,1), (30°,3), (90°,3), (180°,2) as points of R²."""
    polar = [(0, 1), (10, 2), (20, 1), (30, 3), (90, 3), (180, 2)]
    return torch.tensor([(r * math.cos(math.radians(a)), r * math.sin(math.radians(a))) for a, r in polar],
                        dtype=dtype)


# ---------------------------------------------------------------- numpy references (float64, direct O(n²))

def np_kth(queries, bank, k, valid=None):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    d = ((q[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    if valid is not None:
        d[:, ~valid] = np.inf
    return np.sort(d, axis=1)[:, k - 1]


def np_boundary(queue, count, k, select):
    filled = queue[:count]
    delta = np_kth(filled, filled, k)
    return np.argsort(-delta, kind='stable')[:select]


def np_synthesize(queues, counts, k, select, picks, num_draws, sigma, keep, seed, rejection='fixed'):
    """The corrected rule (or the reference's reshape) written out class by class, with the same draw order."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(num_draws, queues.shape[2], generator=gen).double().numpy()
    outliers, ids = [], []
    for c in range(queues.shape[0]):
        filled = queues[c, :counts[c]]
        boundary = np_boundary(queues[c], counts[c], k, select)
        position = torch.randperm(select, generator=gen)[:picks].numpy()
        cand = (filled[boundary[position]][:, None, :] + sigma * noise[None]).reshape(-1, queues.shape[2])
        delta = np_kth(cand, filled, k)
        if rejection == 'fixed':
            kept = [p * num_draws + r for p, row in enumerate(delta.reshape(picks, num_draws))
                    for r in np.argsort(-row, kind='stable')[:keep]]
        else:
            table = delta.reshape(num_draws, picks)
            kept = [i * num_draws + r for i in range(picks) for r in np.argsort(-table[:, i], kind='stable')[:keep]]
        outliers.append(cand[kept])
        ids += [c] * len(kept)
    return np.concatenate(outliers), np.array(ids)


def random_queues(counts, size, dim, seed, k, select):
    """(C, N, d) float64 queues whose rows ≥ count hold huge garbage (must never matter).

    k-NN distances tie structurally (a mutual pair shares its K-th distance), so seeds are skipped until the top
    ``select + 1`` δ_K of every class are separated by 1e-6: the boundary order is then the same in every dtype.
    """
    for attempt in range(seed, seed + 1000):
        gen = torch.Generator().manual_seed(attempt)
        q = torch.randn(len(counts), size, dim, generator=gen, dtype=torch.float64)
        for c, n in enumerate(counts):
            q[c, n:] = 1e3 * torch.randn(size - n, dim, generator=gen, dtype=torch.float64)
        tops = [np.sort(np_kth(q[c, :n].numpy(), q[c, :n].numpy(), k))[::-1][:select + 1] for c, n in enumerate(counts)]
        if all(np.all(-np.diff(t) > 1e-6) for t in tops):
            return q, torch.tensor(counts)
    raise AssertionError('no tie-free queues found')


# ---------------------------------------------------------------- test vectors

def test_n1_boundary_selection():
    bank = n1_bank()
    delta = kth_neighbour_sqdist(bank, bank, 2)
    np.testing.assert_allclose(delta.numpy(), N1_DELTA, atol=1e-6)
    assert boundary_points(bank[None], torch.tensor([6]), 2, 2).tolist() == [[5, 4]]
    scaled = bank * torch.tensor([[3.0], [0.5], [7.0], [1.0], [0.1], [20.0]], dtype=torch.float64)
    np.testing.assert_allclose(kth_neighbour_sqdist(scaled, scaled, 2).numpy(), N1_DELTA, atol=1e-6)
    assert boundary_points(scaled[None], torch.tensor([6]), 2, 2).tolist() == [[5, 4]]
    # float32 gives the same to 1e-6
    np.testing.assert_allclose(kth_neighbour_sqdist(bank.float(), bank.float(), 2).numpy(), N1_DELTA, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_n2_candidates_and_rejection(dtype):
    bank = n1_bank(dtype)
    noise = torch.tensor(N2_NOISE, dtype=dtype)
    cand = torch.tensor(N2_CANDIDATES, dtype=dtype)
    np.testing.assert_allclose(kth_neighbour_sqdist(cand, bank, 2).numpy(), N2_DELTA, atol=1e-6)
    args = (bank[None], torch.tensor([6]), torch.tensor([[5, 4]]), noise, 0.5, 2, 2)
    fixed, ids = outliers_around(*args)
    np.testing.assert_allclose(fixed.numpy(), cand[[2, 1, 3, 5]].numpy(), atol=1e-6)
    assert ids.tolist() == [0, 0, 0, 0]
    ref, _ = outliers_around(*args, rejection='reference')
    np.testing.assert_allclose(ref.numpy(), cand[[1, 0, 3, 4]].numpy(), atol=1e-6)
    assert not torch.equal(fixed, ref)
    # P = 1 and m = 1 work with the corrected rule, and raise a clear error under 'reference'
    one_pick = (bank[None], torch.tensor([6]), torch.tensor([[5]]), noise, 0.5, 2)
    np.testing.assert_allclose(outliers_around(*one_pick, 2)[0].numpy(), cand[[2, 1]].numpy(), atol=1e-6)
    np.testing.assert_allclose(outliers_around(*one_pick, 1)[0].numpy(), cand[[2]].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match='reference'):
        outliers_around(*one_pick, 2, rejection='reference')
    with pytest.raises(ValueError, match='reference'):
        outliers_around(*args[:-1], 1, rejection='reference')


def test_n3_queue_semantics_and_duplicates():
    module = NPOSOutlierSynthesis(2, 2, queue_size=3, k=1, select=1, picks=1, num_draws=2, keep=1)
    feats = torch.arange(10, dtype=torch.float32).reshape(5, 2)
    module.push(feats[:2], torch.tensor([0, 0]))
    assert module.count.tolist() == [2, 0] and module.ready().tolist() == [False, False]
    module.push(feats[2:], torch.tensor([0, 0, 1]))  # class 0: fill the last slot, then drop the oldest
    assert module.count.tolist() == [3, 1] and module.ready().tolist() == [True, False]
    assert module.queue[0].tolist() == [[6, 7], [2, 3], [4, 5]] and module.ptr.tolist() == [1, 0]
    assert module.ready(torch.tensor([1, 0])).tolist() == [False, True]
    # duplicated rows: δ = 0 at K = 2
    bank = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
    assert kth_neighbour_sqdist(bank[:1], bank, 2).item() == pytest.approx(0, abs=1e-6)


def test_n4_logitnorm_invariance_and_formula():
    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(6, 8, generator=gen, dtype=torch.float64) * torch.rand(6, 1, generator=gen) * 5
    protos = F.normalize(torch.randn(8, 4, generator=gen, dtype=torch.float64), dim=0)
    labels = torch.tensor([0, 1, 2, 3, 1, 0])
    loss = LogitNormLoss()
    batch_frobenius = loss(feats / feats.norm() @ protos, labels)
    per_row = loss(F.normalize(feats, dim=1) @ protos, labels)
    np.testing.assert_allclose(batch_frobenius.item(), per_row.item(), atol=1e-6)
    s = (F.normalize(feats, dim=1) @ protos).numpy()
    z = s / ((np.linalg.norm(s, axis=1, keepdims=True) + 1e-7) * 8.0)
    direct = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(6), labels.numpy()])
    np.testing.assert_allclose(per_row.item(), direct, rtol=1e-12)
    weighted = LogitNormLoss(temperature=2.0, loss_weight=0.5)(torch.from_numpy(s), labels)
    z2 = s / ((np.linalg.norm(s, axis=1, keepdims=True) + 1e-7) * 2.0)
    np.testing.assert_allclose(weighted.item(), 0.5 * np.mean(np.log(np.exp(z2).sum(1)) - z2[np.arange(6), labels]),
                               rtol=1e-12)
    assert LogitNormLoss()(torch.randn(3, 4, dtype=torch.float16), torch.tensor([0, 1, 2])).dtype == torch.float32


# ---------------------------------------------------------------- k-NN and boundary vs numpy

@pytest.mark.parametrize('k', [1, 2, 5])
def test_kth_neighbour_sqdist_matches_numpy(k):
    gen = torch.Generator().manual_seed(k)
    bank = torch.randn(11, 5, generator=gen, dtype=torch.float64) * 3
    queries = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    valid = torch.tensor([True, False] * 5 + [True])
    np.testing.assert_allclose(kth_neighbour_sqdist(queries, bank, k).numpy(), np_kth(queries.numpy(), bank.numpy(), k),
                               atol=1e-12)
    masked = kth_neighbour_sqdist(queries, bank, k, valid, max_block=11)  # one query per chunk
    np.testing.assert_allclose(masked.numpy(), np_kth(queries.numpy(), bank.numpy(), k, valid.numpy()), atol=1e-12)
    own = kth_neighbour_sqdist(bank, bank, k)
    np.testing.assert_allclose(own.numpy(), np_kth(bank.numpy(), bank.numpy(), k), atol=1e-12)
    if k == 1:  # each row is its own first neighbour
        np.testing.assert_allclose(own.numpy(), 0, atol=1e-12)
        np.testing.assert_allclose(kth_neighbour_sqdist(bank.float(), bank.float(), 1).numpy(), 0, atol=1e-6)


def test_kth_neighbour_sqdist_dtypes_and_masking():
    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(9, 4, generator=gen)
    queries = torch.randn(5, 4, generator=gen)
    half = kth_neighbour_sqdist(queries.half(), bank.half(), 3)
    assert half.dtype == torch.float32
    np.testing.assert_allclose(half.numpy(), np_kth(queries.double().numpy(), bank.double().numpy(), 3), atol=2e-3)
    assert kth_neighbour_sqdist(queries, bank, 3).dtype == torch.float32
    # zero rows masked out are never neighbours; fewer than K valid rows give inf
    padded = torch.cat([bank, torch.zeros(3, 4)])
    valid = torch.arange(12) < 9
    np.testing.assert_allclose(kth_neighbour_sqdist(queries, padded, 9, valid).numpy(),
                               np_kth(queries.double().numpy(), bank.double().numpy(), 9), atol=1e-5)
    assert torch.isinf(kth_neighbour_sqdist(queries, padded, 10, valid)).all()
    with pytest.raises(ValueError, match='K = 13'):
        kth_neighbour_sqdist(queries, padded, 13)


def test_boundary_points_matches_numpy():
    counts = [12, 9, 12, 7]
    for k, select in [(2, 3), (3, 5), (4, 6)]:  # K = 1: every δ is 0 (ties)
        queues, counts_t = random_queues(counts, 12, 4, seed=1, k=k, select=select)
        got = boundary_points(queues, counts_t, k, select)
        expected = [np_boundary(queues[c].numpy(), counts[c], k, select) for c in range(4)]
        assert got.tolist() == [e.tolist() for e in expected], (k, select)
        assert all((got[c] < counts[c]).all() for c in range(4))  # unfilled rows never picked
        assert torch.equal(boundary_points(queues, counts_t, k, select, max_block=1), got)  # chunk per class
        assert torch.equal(boundary_points(queues, counts_t, k, select, classes=torch.tensor([3, 1])), got[[3, 1]])
    with pytest.raises(ValueError, match='queue 3 holds 7'):
        boundary_points(queues, counts_t, 3, 8)
    with pytest.raises(ValueError, match='select = 13'):
        boundary_points(queues, counts_t, 3, 13)


# ---------------------------------------------------------------- synthesis vs numpy

@pytest.mark.parametrize('picks,keep', [(1, 1), (1, 2), (3, 1), (3, 2)])
def test_synthesize_matches_numpy(picks, keep):
    counts = [12, 10, 12]
    queues, counts_t = random_queues(counts, 12, 4, seed=2, k=3, select=5)
    kw = dict(k=3, select=5, picks=picks, num_draws=20, sigma=0.3, keep=keep)
    out, ids = synthesize(queues, counts_t, generator=torch.Generator().manual_seed(7), **kw)
    exp_out, exp_ids = np_synthesize(queues.numpy(), counts, seed=7, **kw)
    assert out.shape == (3 * picks * keep, 4) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), exp_out, atol=1e-12)
    assert ids.tolist() == exp_ids.tolist()
    chunked, _ = synthesize(queues, counts_t, generator=torch.Generator().manual_seed(7), max_block=1, **kw)
    assert torch.equal(chunked, out)
    # float32 queues: same draws, same selection (well-separated random values)
    out32, _ = synthesize(queues.float(), counts_t, generator=torch.Generator().manual_seed(7), **kw)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), exp_out, atol=1e-5)


def test_synthesize_reference_rejection_and_subsets():
    counts = [12, 12]
    queues, counts_t = random_queues(counts, 12, 4, seed=4, k=3, select=5)
    kw = dict(k=3, select=5, picks=3, num_draws=20, sigma=0.3, keep=2)
    ref, _ = synthesize(queues, counts_t, generator=torch.Generator().manual_seed(1), rejection='reference', **kw)
    exp_ref, _ = np_synthesize(queues.numpy(), counts, seed=1, rejection='reference', **kw)
    np.testing.assert_allclose(ref.numpy(), exp_ref, atol=1e-12)
    fixed, _ = synthesize(queues, counts_t, generator=torch.Generator().manual_seed(1), **kw)
    assert not torch.allclose(ref, fixed)
    with pytest.raises(ValueError, match='reference'):
        synthesize(queues, counts_t, generator=torch.Generator(), rejection='reference', **dict(kw, picks=1))
    # a class subset: ids are the real class indices and the draws follow the subset's order
    sub, sub_ids = synthesize(queues, counts_t, generator=torch.Generator().manual_seed(1), classes=[1], **kw)
    assert sub_ids.tolist() == [1] * 6
    exp_sub, _ = np_synthesize(queues[1:].numpy(), counts[1:], seed=1, **kw)
    np.testing.assert_allclose(sub.numpy(), exp_sub, atol=1e-12)


@pytest.mark.parametrize('bad,match', [
    (dict(k=13), 'K = 13'), (dict(select=13), 'select = 13'), (dict(picks=6), 'picks P = 6'),
    (dict(keep=21), 'keep m = 21'), (dict(rejection='interleaved'), 'rejection must be'),
    (dict(keep=1, rejection='reference'), 'reference'),
])
def test_synthesize_validates_sizes(bad, match):
    queues, counts = random_queues([12], 12, 4, seed=0, k=3, select=5)
    kw = dict(dict(k=3, select=5, picks=3, num_draws=20, sigma=0.3, keep=2), **bad)
    with pytest.raises(ValueError, match=match):
        synthesize(queues, counts, generator=torch.Generator(), **kw)


# ---------------------------------------------------------------- the queue module

def naive_push(queue, count, ptr, feats, labels):
    """Sample by sample: fill slot count while count < N, else overwrite slot ptr (the oldest) and advance it."""
    size = queue.shape[1]
    for f, y in zip(feats, labels.tolist()):
        if count[y] < size:
            queue[y, count[y]] = f
            count[y] += 1
        else:
            queue[y, ptr[y]] = f
            ptr[y] = (ptr[y] + 1) % size


def test_push_equals_one_by_one_and_keeps_the_last_n():
    module = NPOSOutlierSynthesis(4, 3, queue_size=5, k=2, select=3, picks=2, num_draws=6, keep=2)
    queue, count, ptr = torch.zeros(4, 5, 3), [0] * 4, [0] * 4
    history = {c: [] for c in range(4)}
    gen = torch.Generator().manual_seed(0)
    batches = [3, 7, 1, 0, 9, 13, 4]
    for size in batches:
        labels = torch.randint(0, 3, (size,), generator=gen)  # class 3 never appears
        if size == 13:
            labels[:12] = 1  # 12 samples of one class in one batch: more than N
        feats = torch.randn(size, 3, generator=gen, dtype=torch.float64)  # stored as float32
        module.push(feats, labels)
        naive_push(queue, count, ptr, feats.float(), labels)
        for f, y in zip(feats.float(), labels.tolist()):
            history[y].append(f)
        assert torch.equal(module.queue, queue)
        assert module.count.tolist() == count and module.ptr.tolist() == ptr
    assert module.ready().tolist() == [True, True, True, False]
    for c in range(3):  # reading the ring from the oldest slot gives the last N samples in order
        ring = torch.roll(module.queue[c], -int(module.ptr[c]), dims=0)
        assert torch.equal(ring, torch.stack(history[c][-5:]))
    with pytest.raises(ValueError, match='labels must be in'):
        module.push(torch.zeros(1, 3), torch.tensor([4]))
    with pytest.raises(ValueError, match=r'\(B, 3\)'):
        module.push(torch.zeros(2, 4), torch.tensor([0, 1]))


def filled_module(**kw):
    cfg = dict(num_classes=4, feat_dim=6, queue_size=10, k=3, select=4, picks=2, num_draws=8, sigma=0.2, keep=2,
               seed=5)
    cfg.update(kw)
    module = NPOSOutlierSynthesis(**cfg)
    gen = torch.Generator().manual_seed(11)
    labels = torch.tensor([0] * 14 + [2] * 10 + [1] * 7)  # classes 0 and 2 full, 1 partial, 3 empty
    module.push(torch.randn(labels.numel(), 6, generator=gen), labels)
    return module


def test_sample_uses_full_classes_and_step_seeds():
    module = filled_module()
    empty = NPOSOutlierSynthesis(4, 6, queue_size=10, k=3, select=4, picks=2, num_draws=8)
    out, ids = empty.sample()
    assert out.shape == (0, 6) and ids.shape == (0,) and int(empty.step) == 1
    outliers, ids = module()
    assert int(module.step) == 1
    assert outliers.shape == (8, 6) and outliers.dtype == torch.float32 and not outliers.requires_grad
    assert ids.tolist() == [0] * 4 + [2] * 4
    expected = synthesize(module.queue, module.count, 3, 4, 2, 8, 0.2, 2,
                          generator=torch.Generator().manual_seed(step_seed(5, 0)), classes=torch.tensor([0, 2]))
    assert torch.equal(outliers, expected[0])
    second, _ = module.sample()
    assert not torch.equal(second, outliers)  # a new draw per call


def test_state_dict_round_trip_resumes_the_draws():
    original = filled_module()
    original.sample()
    original.sample()
    state = original.state_dict()
    assert set(state) == {'queue', 'count', 'ptr', 'step'}
    restored = filled_module(seed=5)
    restored.queue.zero_()
    restored.count.zero_()
    restored.load_state_dict(state)
    assert int(restored.step) == 2
    for _ in range(2):
        a, ids_a = original.sample()
        b, ids_b = restored.sample()
        assert torch.equal(a, b) and torch.equal(ids_a, ids_b)
    same_seed, other_seed = filled_module(seed=5), filled_module(seed=6)
    same_seed.load_state_dict(state)
    other_seed.load_state_dict(state)
    assert not torch.equal(other_seed.sample()[0], same_seed.sample()[0])  # the seed is part of the draws


def test_module_config_errors_and_registry():
    with pytest.raises(ConfigError, match='select = 1001'):
        NPOSOutlierSynthesis(3, 4, select=1001)
    with pytest.raises(ConfigError, match='reference'):
        NPOSOutlierSynthesis(3, 4, picks=1, rejection='reference')
    with pytest.raises(ConfigError, match='seed'):
        NPOSOutlierSynthesis(3, 4, seed=-1)
    built = MODELS.build(dict(type='NPOSOutlierSynthesis', num_classes=3, feat_dim=4, queue_size=20, k=5, select=6))
    assert built.queue.shape == (3, 20, 4) and built.queue.dtype == torch.float32
    assert isinstance(MODELS.build(dict(type='LogitNormLoss')), LogitNormLoss)
    assert isinstance(MODELS.build(dict(type='OutlierRegLoss')), OutlierRegLoss)


# ---------------------------------------------------------------- the outlier regulariser

def test_outlier_reg_loss_formula_and_empty_outliers():
    gen = torch.Generator().manual_seed(0)
    id_logits = torch.randn(5, 1, generator=gen, dtype=torch.float64, requires_grad=True)
    out_logits = torch.randn(3, generator=gen, dtype=torch.float64)
    loss = OutlierRegLoss()(id_logits, out_logits)
    a, b = id_logits.detach().numpy().ravel(), out_logits.numpy()
    direct = -(np.log(1 / (1 + np.exp(-a))).sum() + np.log(1 - 1 / (1 + np.exp(-b))).sum()) / 8  # one mean
    np.testing.assert_allclose(loss.item(), 0.1 * direct, rtol=1e-12)
    assert loss.ndim == 0
    zero = OutlierRegLoss(loss_weight=1.0)(id_logits, torch.zeros(0, 1, dtype=torch.float64))
    assert zero.item() == 0 and zero.requires_grad
    zero.backward()
    assert id_logits.grad is not None and torch.equal(id_logits.grad, torch.zeros_like(id_logits))
    half = OutlierRegLoss()(torch.zeros(2, dtype=torch.float16), torch.zeros(2, dtype=torch.float16))
    assert half.dtype == torch.float32 and half.item() == pytest.approx(0.1 * math.log(2))


def test_outlier_reg_loss_under_several_processes_is_the_global_mean():
    """W processes, each with B/W ID logits and the same M outliers: the mean of their losses (what DDP's gradient
    averaging optimises) is the one-process mean over B + M, for values and gradients."""
    gen = torch.Generator().manual_seed(1)
    id_logits = torch.randn(8, generator=gen, dtype=torch.float64, requires_grad=True)
    out_logits = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    whole = OutlierRegLoss()(id_logits, out_logits)
    grads_whole = torch.autograd.grad(whole, (id_logits, out_logits))
    shards = [OutlierRegLoss()(part, out_logits, world_size=4) for part in id_logits.split(2)]
    averaged = sum(shards) / 4
    torch.testing.assert_close(averaged, whole)
    for got, want in zip(torch.autograd.grad(averaged, (id_logits, out_logits)), grads_whole):
        torch.testing.assert_close(got, want)
    naive = sum(OutlierRegLoss()(part, out_logits) for part in id_logits.split(2)) / 4
    assert abs(naive.item() - whole.item()) > 1e-3  # the plain per-process mean weights the outliers W times
