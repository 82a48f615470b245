"""AdaNeg: hand vectors (IDs local to this module) on the set-up below (logit scale 10, K = 2 ID labels and 2
negatives, L = 2): AT1 a two-batch stream with task proxies, AT2 the same with sample proxies, AT3 with two groups,
AT4 proxy vectors from three slots; the write rule's edge cases and the Gram-trick logits."""
import numpy as np
import pytest
import torch

from mmood.scores.adaneg import AdaNegMemory, adaneg_stream_scores
from mmood.scores.neglabel import group_permutation, neglabel_score

AT = dict(atol=1e-6, rtol=0.0)
F64 = dict(rtol=1e-10, atol=1e-12)


def _unit(rows):
    a = torch.as_tensor(rows, dtype=torch.float64)
    return a / a.norm(dim=-1, keepdim=True)


# ---------------------------------------------------------------- set-up of AT1-AT3
T = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]])  # K = 2 ID labels, M = 2 negatives
K = 2
X1 = _unit([[0.9, 0.1, 0.2], [0.1, 0.2, 0.9], [0.5, 0.5, 0.5]])
X2 = _unit([[0.95, 0.05, 0.0], [0.7, 0.4, 0.1]])
STREAM = torch.cat([X1, X2])
SCALE = 10.0
# s = 10, G = 1, gamma = gap = 0.5, lambda = 0.1, L = 2, task proxies; batches of 3 then 2
AT_KW = dict(batch_size=3, logit_scale=SCALE, ngroup=1, gamma=0.5, gap=0.5, lam=0.1, memleng=2)


def _static(x, ngroup=1, perm=None):
    z = SCALE * x @ T.T
    return z, neglabel_score(z[:, :K], z[:, K:], tau=1.0, ngroup=ngroup, perm=perm)


def _stream(**kwargs):
    kw = dict(AT_KW)
    kw.update(kwargs)
    return adaneg_stream_scores(STREAM, T, K, **kw)


# ---------------------------------------------------------------- AT1 (task proxies)
def test_at1_batch1_writes():
    mem = AdaNegMemory(T, K, memleng=2)
    z, s_nl = _static(X1)
    np.testing.assert_allclose(s_nl.numpy(), [0.902854, 0.000638, 0.027981], **AT)
    stats = mem.write(X1, z, s_nl, gamma=0.5, gap=0.5)
    assert stats == dict(written=3, replaced=0, skipped=0)
    # x0 -> label 0, x1 -> label 2, x2 -> label 3, each in slot 1
    np.testing.assert_array_equal(mem.num_images.numpy(), [1, 0, 1, 1])
    for label, row in ((0, 0), (2, 1), (3, 2)):
        np.testing.assert_array_equal(mem.slots[label, 1].numpy(), X1[row].numpy())
    np.testing.assert_array_equal(mem.slots[1, 1:].numpy(), 0.0)
    np.testing.assert_array_equal(mem.slots[:, 2].numpy(), 0.0)  # slot L is never written (ADA-2)
    np.testing.assert_array_equal(mem.slots[:, 0].numpy(), T.numpy())
    ent = mem.entropies.numpy()
    np.testing.assert_allclose(ent[[0, 2, 3], 1], [0.001725, 0.317842, 0.075331], **AT)
    ent[[0, 2, 3], 1] = 0.0
    np.testing.assert_array_equal(ent, 0.0)


def test_at1_batch1_scores():
    out = adaneg_stream_scores(X1, T, K, **AT_KW)
    np.testing.assert_allclose(out['s_nl'].numpy(), [0.902854, 0.000638, 0.027981], **AT)
    np.testing.assert_allclose(out['s_ada'].numpy(), [0.920272, 0.000812, 0.046445], **AT)
    np.testing.assert_allclose(out['score'].numpy(), [1.010558, 0.000876, 0.049243], **AT)
    np.testing.assert_allclose(out['score'].numpy(), (out['s_ada'] + 0.1 * out['s_nl']).numpy(), **F64)
    assert (out['written'], out['replaced']) == (3, 0)
    assert out['score'].dtype == torch.float64


def test_at1_batch2_replacement():
    mem = AdaNegMemory(T, K, memleng=2)
    out = adaneg_stream_scores(STREAM, T, K, memory=mem, **AT_KW)
    np.testing.assert_allclose(out['s_nl'].numpy()[3:], [0.980449, 0.528045], **AT)
    np.testing.assert_allclose(out['score'].numpy(), [1.010558, 0.000876, 0.049243, 1.078655, 0.611215], **AT)
    assert (out['written'], out['replaced']) == (3, 1)
    # x3 (entropy 0.000814 < 0.001725) replaced slot 1 of label 0; x4 is in the gap
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), X2[0].numpy())
    np.testing.assert_allclose(mem.entropies[0, 1].item(), 0.000814, **AT)
    np.testing.assert_array_equal(mem.num_images.numpy(), [1, 0, 1, 1])
    np.testing.assert_array_equal(mem.slots[:, 0].numpy(), T.numpy())


def test_at1_batch2_step_by_step():
    mem = AdaNegMemory(T, K, memleng=2)
    mem.write(X1, *_static(X1))
    z, s_nl = _static(X2)
    assert mem.write(X2, z, s_nl) == dict(written=0, replaced=1, skipped=0)


def test_at1_full_capacity():
    mem = AdaNegMemory(T, K, memleng=2, full_capacity=True)
    out = adaneg_stream_scores(STREAM, T, K, full_capacity=True, memory=mem, **AT_KW)
    np.testing.assert_allclose(out['score'].numpy()[:3], [1.010558, 0.000876, 0.049243], **AT)
    np.testing.assert_allclose(out['score'].numpy()[3:], [1.078218, 0.657087], **AT)
    assert (out['written'], out['replaced']) == (4, 0)
    # x3 goes to slot 2 of label 0
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), X1[0].numpy())
    np.testing.assert_array_equal(mem.slots[0, 2].numpy(), X2[0].numpy())


# ---------------------------------------------------------------- AT2 (sample proxies)
def test_at2_sample_proxies():
    out = _stream(proxies='sample', beta=5.0)
    np.testing.assert_allclose(out['score'].numpy(), [1.011197, 0.001207, 0.060815, 1.078641, 0.612798], **AT)
    assert (out['written'], out['replaced']) == (3, 1)


# ---------------------------------------------------------------- AT3 (two groups)
def test_at3_two_groups():
    perm = torch.arange(2)
    out = _stream(ngroup=2, perm=perm)
    np.testing.assert_allclose(out['s_nl'].numpy(), [0.951379, 0.003629, 0.347522, 0.990224, 0.763804], atol=1e-6)
    np.testing.assert_allclose(out['score'].numpy(), [1.055214, 0.005891, 0.351070, 1.089326, 0.855090], **AT)
    assert (out['written'], out['replaced']) == (2, 1)

    mem = AdaNegMemory(T, K, memleng=2)
    z, s_nl = _static(X1, ngroup=2, perm=perm)
    assert mem.write(X1, z, s_nl) == dict(written=2, replaced=0, skipped=0)
    np.testing.assert_array_equal(mem.num_images.numpy(), [1, 0, 1, 0])  # x2 is not written
    z, s_nl = _static(X2, ngroup=2, perm=perm)
    assert mem.write(X2, z, s_nl) == dict(written=0, replaced=1, skipped=1)  # x3 replaces, x4 is skipped
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), X2[0].numpy())

    # x4's entropy, seen where there is room for it (L = 3, full capacity)
    roomy = AdaNegMemory(T, K, memleng=3, full_capacity=True)
    roomy.write(X1, *_static(X1, ngroup=2, perm=perm))
    roomy.write(X2, *_static(X2, ngroup=2, perm=perm))
    np.testing.assert_allclose(roomy.entropies[0, 1:].numpy(), [0.001725, 0.000814, 0.114326], **AT)


def test_default_permutation_is_group_permutation_seed0():
    rng = np.random.default_rng(3)
    text = _unit(rng.normal(size=(3 + 12, 5)))
    feats = _unit(rng.normal(size=(9, 5)))
    default = adaneg_stream_scores(feats, text, 3, batch_size=4, ngroup=5)
    explicit = adaneg_stream_scores(feats, text, 3, batch_size=4, ngroup=5, perm=group_permutation(12, 5, seed=0))
    np.testing.assert_array_equal(default['score'].numpy(), explicit['score'].numpy())


# ---------------------------------------------------------------- AT4 (proxy vectors)
AT4_SLOTS = _unit([[1, 0, 0], [0.9, 0.3, 0.1], [0.8, 0.1, 0.5]])
AT4_X = _unit([[0.85, 0.2, 0.3]])


def _at4_memory():
    """Label 0 holds AT4's three slots (text + two images); label 1 is a text-only negative."""
    mem = AdaNegMemory(torch.cat([AT4_SLOTS[:1], _unit([[0, 1, 0]])]), 1, memleng=3)
    logits = torch.tensor([[5.0, 0.0], [5.0, 0.0]], dtype=torch.float64)
    assert mem.write(AT4_SLOTS[1:], logits, torch.ones(2, dtype=torch.float64))['written'] == 2
    return mem


@pytest.mark.parametrize('beta,weights,proxy', [
    (5.0, [0.672339, 0.863853, 0.862428], [0.958976, 0.157004, 0.236039]),
    (5.5, None, [0.958395, 0.158099, 0.237662]),
])
def test_at4_sample_proxy(beta, weights, proxy):
    mem = _at4_memory()
    proxies, w = mem.sample_proxies(AT4_X, beta=beta, return_weights=True)
    assert proxies.shape == (1, 2, 3) and w.shape == (1, 2, 4)
    np.testing.assert_allclose(proxies[0, 0].numpy(), proxy, **AT)
    if weights is not None:
        np.testing.assert_allclose(w[0, 0, :3].numpy(), weights, **AT)
    assert w[0, 0, 3].item() == 0.0  # unused slot
    np.testing.assert_allclose(mem.sample_logits(AT4_X, beta=beta, scale=1.0)[0, 0].item(),
                               float(AT4_X[0] @ torch.tensor(proxy, dtype=torch.float64)), **AT)


def test_at4_task_proxy():
    mem = _at4_memory()
    proxies = mem.task_proxies()
    np.testing.assert_allclose(proxies[0].numpy(), [0.964882, 0.145385, 0.218781], **AT)
    np.testing.assert_array_equal(proxies[1].numpy(), [0.0, 1.0, 0.0])  # text-only label


# ---------------------------------------------------------------- write rule
def test_saturated_images_never_replace_text_or_unused_slots():
    """Two saturated images on one full label: in float64, -sum p log(p + 1e-8) is about -1e-8 (the write rule)."""
    text = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0]])
    feats = _unit([[1, 0, 0], [1, 1e-3, 0]])
    logits = 100.0 * feats @ text.T
    s_nl = neglabel_score(logits[:, :2], logits[:, 2:], tau=1.0)
    assert bool((s_nl > 0.75).all())
    prob = torch.softmax(logits[:, :2], dim=1)
    raw = -(prob * (prob + 1e-8).log()).sum(dim=1)
    assert bool((raw < 0).all())  # the reference's entropy is negative: the trap is armed

    mem = AdaNegMemory(text, 2, memleng=2)
    assert mem.write(feats, logits, s_nl) == dict(written=1, replaced=0, skipped=1)
    np.testing.assert_array_equal(mem.slots[0, 0].numpy(), text[0].numpy())  # text prototype kept
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), feats[0].numpy())  # first image kept
    np.testing.assert_array_equal(mem.slots[0, 2].numpy(), 0.0)  # unused slot stays unused
    assert mem.entropies[0, 1].item() == 0.0  # clamped at 0
    # the same in two batches, and with room for one more image only the free slot is used
    mem.reset()
    mem.write(feats[:1], logits[:1], s_nl[:1])
    assert mem.write(feats[1:], logits[1:], s_nl[1:]) == dict(written=0, replaced=0, skipped=1)
    np.testing.assert_array_equal(mem.slots[0, 0].numpy(), text[0].numpy())
    np.testing.assert_array_equal(mem.slots[0, 2].numpy(), 0.0)
    full = AdaNegMemory(text, 2, memleng=2, full_capacity=True)
    assert full.write(feats, logits, s_nl) == dict(written=2, replaced=0, skipped=0)
    np.testing.assert_array_equal(full.slots[0, 0].numpy(), text[0].numpy())


def test_replacement_none_keeps_first_writes():
    mem = AdaNegMemory(T, K, memleng=2, replacement='none')
    out = adaneg_stream_scores(STREAM, T, K, replacement='none', memory=mem, **AT_KW)
    assert (out['written'], out['replaced']) == (3, 0)
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), X1[0].numpy())  # x3 did not replace x0
    np.testing.assert_allclose(mem.entropies[0, 1].item(), 0.001725, **AT)
    entropy = _stream()
    np.testing.assert_array_equal(out['score'].numpy()[:3], entropy['score'].numpy()[:3])
    assert not np.isclose(out['score'][3].item(), entropy['score'][3].item(), rtol=0, atol=1e-6)
    z, s_nl = _static(X2)
    assert mem.write(X2, z, s_nl) == dict(written=0, replaced=0, skipped=1)


def test_later_sample_sees_earlier_writes_of_same_batch():
    """x3 and a copy of x0 in one batch (capacity 1): x0 is written first, then x3 replaces it."""
    mem = AdaNegMemory(T, K, memleng=2)
    x = torch.cat([X1[:1], X2[:1]])
    z, s_nl = _static(x)
    assert mem.write(x, z, s_nl) == dict(written=1, replaced=1, skipped=0)
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), X2[0].numpy())
    # reversed order: x0's larger entropy does not replace x3
    mem.reset()
    z, s_nl = _static(x.flip(0))
    assert mem.write(x.flip(0), z, s_nl) == dict(written=1, replaced=0, skipped=1)
    np.testing.assert_array_equal(mem.slots[0, 1].numpy(), X2[0].numpy())


def test_score_before_update():
    after = _stream()
    before = _stream(score_before_update=True)
    np.testing.assert_array_equal(before['s_nl'].numpy(), after['s_nl'].numpy())
    # the first batch is scored on the text prototypes: S_ada = S_nl
    np.testing.assert_allclose(before['s_ada'].numpy()[:3], before['s_nl'].numpy()[:3], **F64)
    assert not np.allclose(before['score'].numpy()[:3], after['score'].numpy()[:3], rtol=0, atol=1e-6)
    assert (before['written'], before['replaced']) == (after['written'], after['replaced'])


def test_reset_restores_text_only_state():
    mem = AdaNegMemory(T, K, memleng=2)
    first = adaneg_stream_scores(STREAM, T, K, memory=mem, **AT_KW)
    assert int(mem.num_images.sum()) == 3
    mem.reset()
    np.testing.assert_array_equal(mem.num_images.numpy(), 0)
    np.testing.assert_array_equal(mem.slots[:, 0].numpy(), T.numpy())
    np.testing.assert_array_equal(mem.slots[:, 1:].numpy(), 0.0)
    np.testing.assert_array_equal(mem.entropies.numpy(), 0.0)
    np.testing.assert_array_equal(mem.task_proxies().numpy(), T.numpy())
    # a second stream on the used memory (reset by the call) equals a fresh memory's
    second = adaneg_stream_scores(STREAM, T, K, memory=mem, **AT_KW)
    fresh = _stream()
    for key in ('score', 's_nl', 's_ada'):
        np.testing.assert_array_equal(first[key].numpy(), fresh[key].numpy())
        np.testing.assert_array_equal(second[key].numpy(), fresh[key].numpy())


@pytest.mark.parametrize('full_capacity,capacity', [(False, 3), (True, 4)])
def test_capacity(full_capacity, capacity):
    """memleng = 4: the reference stores L - 1 = 3 images per label (slot L never written); full_capacity 4."""
    mem = AdaNegMemory(T, K, memleng=4, full_capacity=full_capacity, replacement='none')
    assert mem.capacity == capacity
    feats = _unit([[1, 0.01 * i, 0] for i in range(6)])
    z = SCALE * feats @ T.T
    stats = mem.write(feats, z, torch.ones(6, dtype=torch.float64))
    assert stats == dict(written=capacity, replaced=0, skipped=6 - capacity)
    assert mem.num_images[0].item() == capacity
    np.testing.assert_array_equal(mem.slots[0, 1:capacity + 1].numpy(), feats[:capacity].numpy())
    filled = (mem.slots[0].abs().sum(dim=1) > 0).sum().item()
    assert filled == capacity + 1
    if not full_capacity:
        np.testing.assert_array_equal(mem.slots[0, 4].numpy(), 0.0)


# ---------------------------------------------------------------- Gram trick
def _random_memory(rng, dtype=torch.float64, memleng=4):
    """C = 7 labels (K = 3) with 0..L images each (full capacity, L = 4)."""
    num_id, num_labels, dim = 3, 7, 6
    text = _unit(rng.normal(size=(num_labels, dim))).to(dtype)
    mem = AdaNegMemory(text, num_id, memleng=memleng, full_capacity=True)
    counts = [0, 1, 2, 3, 4, 0, 2]
    for label, count in enumerate(counts):
        if count == 0:
            continue
        feats = _unit(rng.normal(size=(count, dim)) + 2 * text[label].double().numpy()).to(dtype)
        logits = torch.zeros(count, num_labels, dtype=dtype)
        logits[:, label] = 1.0
        s_nl = torch.full((count, ), 1.0 if label < num_id else 0.0, dtype=dtype)
        assert mem.write(feats, logits, s_nl)['written'] == count
    np.testing.assert_array_equal(mem.num_images.numpy(), counts)
    return mem


@pytest.mark.parametrize('beta', [0.0, 1.0, 5.0, 5.5, 40.0])
def test_sample_logits_equals_materialised_proxies(beta):
    rng = np.random.default_rng(0)
    mem = _random_memory(rng)
    x = _unit(rng.normal(size=(5, 6)))
    fast = mem.sample_logits(x, beta=beta, scale=100.0)
    slow = 100.0 * torch.einsum('bcd,bd->bc', mem.sample_proxies(x, beta=beta), x)
    assert fast.shape == (5, 7) and fast.dtype == torch.float64
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-10, atol=1e-10)
    # labels without images give exactly their text logit
    text_logits = 100.0 * (x @ mem.text.T)
    np.testing.assert_array_equal(fast[:, [0, 5]].numpy(), text_logits[:, [0, 5]].numpy())
    if beta == 0.0:  # uniform weights: the task-adaptive proxies
        np.testing.assert_allclose(fast.numpy(), (100.0 * x @ mem.task_proxies().T).numpy(), rtol=1e-10)


def test_task_logits_and_text_logits_reuse():
    rng = np.random.default_rng(2)
    mem = _random_memory(rng)
    x = _unit(rng.normal(size=(5, 6)))
    text_logits = 100.0 * (x @ mem.text.T)
    task = mem.task_logits(x, scale=100.0)
    np.testing.assert_allclose(task.numpy(), (100.0 * x @ mem.task_proxies().T).numpy(), **F64)
    np.testing.assert_array_equal(task[:, [0, 5]].numpy(), text_logits[:, [0, 5]].numpy())
    np.testing.assert_array_equal(mem.task_logits(x, scale=100.0, text_logits=text_logits).numpy(), task.numpy())
    sample = mem.sample_logits(x, beta=5.0, scale=100.0)
    reused = mem.sample_logits(x, beta=5.0, scale=100.0, text_logits=text_logits)
    np.testing.assert_array_equal(reused.numpy(), sample.numpy())
    np.testing.assert_array_equal(text_logits.numpy(), (100.0 * (x @ mem.text.T)).numpy())  # not modified
    with pytest.raises(ValueError, match='text_logits must have shape'):
        mem.task_logits(x, text_logits=text_logits[:, :3])


def test_sample_logits_chunked_and_float32(monkeypatch):
    import mmood.scores.adaneg as adaneg
    rng = np.random.default_rng(1)
    mem64 = _random_memory(rng)
    x = _unit(rng.normal(size=(4, 6)))
    whole = mem64.sample_logits(x, beta=5.0)
    monkeypatch.setattr(adaneg, '_CHUNK_BYTES', 1)  # one label per chunk
    np.testing.assert_allclose(mem64.sample_logits(x, beta=5.0).numpy(), whole.numpy(), **F64)
    mem32 = _random_memory(np.random.default_rng(1), dtype=torch.float32)
    out32 = mem32.sample_logits(x.float(), beta=5.0)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.double().numpy(), whole.numpy(), atol=1e-4)


def test_sample_stream_matches_materialised():
    """The 'sample' stream equals NegLabel on the materialised proxies after each batch's writes."""
    mem = AdaNegMemory(T, K, memleng=2)
    out = adaneg_stream_scores(STREAM, T, K, proxies='sample', memory=AdaNegMemory(T, K, memleng=2), **AT_KW)
    expected = []
    for x in (X1, X2):
        z, s_nl = _static(x)
        mem.write(x, z, s_nl)
        z_ada = SCALE * torch.einsum('bcd,bd->bc', mem.sample_proxies(x, beta=5.0), x)
        expected.append(neglabel_score(z_ada[:, :K], z_ada[:, K:], tau=1.0) + 0.1 * s_nl)
    np.testing.assert_allclose(out['score'].numpy(), torch.cat(expected).numpy(), **F64)


# ---------------------------------------------------------------- dtypes and validation
def test_float32_stream():
    out = adaneg_stream_scores(STREAM.float(), T.float(), K, **AT_KW)
    assert out['score'].dtype == torch.float32 and out['s_nl'].dtype == torch.float32
    np.testing.assert_allclose(out['score'].double().numpy(), _stream()['score'].numpy(), atol=1e-5)


def test_empty_stream():
    out = adaneg_stream_scores(STREAM[:0], T, K, **AT_KW)
    assert out['score'].shape == (0, ) and out['written'] == 0


def test_invalid_options():
    with pytest.raises(ValueError, match='proxies must be one of'):
        _stream(proxies='both')
    with pytest.raises(ValueError, match='replacement must be one of'):
        _stream(replacement='oldest')
    with pytest.raises(ValueError, match='replacement must be one of'):
        AdaNegMemory(T, K, replacement='fifo')
    with pytest.raises(ValueError, match='batch_size must be >= 1'):
        _stream(batch_size=0)
    with pytest.raises(ValueError, match='beta must be >= 0'):
        _stream(beta=-1.0)
    with pytest.raises(ValueError, match='logit_scale must be > 0'):
        _stream(logit_scale=0.0)
    with pytest.raises(ValueError, match='num_id must be in'):
        AdaNegMemory(T, 4)
    with pytest.raises(ValueError, match='memleng must be >= 1'):
        AdaNegMemory(T, K, memleng=0)
    with pytest.raises(ValueError, match='unit'):
        AdaNegMemory(100.0 * T, K)  # scaled text
    with pytest.raises(ValueError, match='memory does not match the arguments: memleng, full_capacity'):
        _stream(memory=AdaNegMemory(T, K, memleng=3, full_capacity=True))
    with pytest.raises(ValueError, match='memory does not match the arguments: dtype'):
        _stream(memory=AdaNegMemory(T.float(), K, memleng=2))
    mem = AdaNegMemory(T, K, memleng=2)
    with pytest.raises(ValueError, match='logits must have shape'):
        mem.write(X1, torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r'x must be a tensor of shape \(B, 3\)'):
        mem.sample_logits(torch.zeros(2, 4, dtype=torch.float64))
