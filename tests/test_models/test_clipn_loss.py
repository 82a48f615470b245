"""CLIPNLoss (ITBO + TSO): the untrained vector T3 (no tower equal to the yes tower, total 1.688147180560) and the
hand-made loss vector T4 (``t4_features``, N = 3, D = 4) -- IDs local to this module --, class masking, gradients, and
the 2-process gloo run against the single-process global batch."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import gloo_group, spawn_with_port

from mmood.models.losses import CLIPNLoss, clipn_loss, gather_features
from mmpretrain.registry import MODELS

WORLD = 2
LOCAL_BATCH = 3
DIM = 5
T3_TOTAL = 1.688147180560
LN2 = math.log(2)


def unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def t4_features():
    grid = np.arange(12).reshape(3, 4)
    f = unit(np.cos(grid * 1.1 + 0.3))
    g = unit(f + 0.3 * np.sin(grid * 0.7 + 0.2))
    h = unit(-0.5 * g + np.cos(grid * 1.9 + 0.4))
    return tuple(torch.from_numpy(x) for x in (f, g, h))


def random_unit(n, d, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=gen, dtype=dtype), dim=1)


def loop_loss(f, g, h, s, labels=None):
    """The loss written out pair by pair in numpy float64, with log(1 - p) taken literally."""
    f, g, h = (np.asarray(x, dtype=np.float64) for x in (f, g, h))
    n = f.shape[0]
    p = [[1 / (1 + math.exp(-(s * f[i] @ g[j] - s * f[i] @ h[j]))) for j in range(n)] for i in range(n)]
    loss_yes = -sum(math.log(p[i][i]) for i in range(n)) / n
    pairs = [(i, j) for i in range(n) for j in range(n)
             if i != j and (labels is None or labels[i] != labels[j])]
    loss_no = -sum(math.log(1 - p[i][j]) for i, j in pairs) / len(pairs) if pairs else 0.0
    loss_tso = sum(2 - math.sqrt(2 - 2 * g[i] @ h[i] + 1e-4) for i in range(n)) / n
    return dict(loss_yes=loss_yes, loss_no=loss_no, loss_tso=loss_tso, loss=0.5 * (loss_yes + loss_no + loss_tso))


@pytest.mark.parametrize('scale,expected', [
    (100.0, (0.0, 25.423379498832, 0.363103667248, 12.893241583040)),
    (10.0, (1.1166542846e-05, 2.542806363573, 0.363103667248, 1.452960598682)),
    (1.0, (0.265237827960, 0.584117122386, 0.363103667248, 0.606229308796)),
])
def test_t4(scale, expected):
    f, g, h = t4_features()
    np.testing.assert_allclose(f[0].numpy(), [.618271048899, .109998691472, -.518481089272, -.580360713725],
                               rtol=1e-9)
    out = clipn_loss(f, g, h, scale)
    assert set(out) == {'loss_yes', 'loss_no', 'loss_tso', 'loss'}
    assert all(v.dtype == torch.float64 and v.ndim == 0 for v in out.values())
    if scale == 100.0:  # the reference's log(softmax) gives exactly 0; log-sigmoid gives 2.37e-47
        assert 0 <= out['loss_yes'].item() < 1e-12
    else:
        np.testing.assert_allclose(out['loss_yes'].item(), expected[0], rtol=1e-9)
    for name, value in zip(('loss_no', 'loss_tso', 'loss'), expected[1:]):
        np.testing.assert_allclose(out[name].item(), value, rtol=1e-9, err_msg=name)
    # the tensor-scale path gives the same values
    out_t = clipn_loss(f, g, h, torch.tensor(scale, dtype=torch.float64))
    np.testing.assert_allclose(out_t['loss'].item(), out['loss'].item(), rtol=1e-12)


def test_t4_h_opposite_g_gives_negative_tso():
    f, g, _ = t4_features()
    out = clipn_loss(f, g, -g, 10.0)
    np.testing.assert_allclose(out['loss_tso'].item(), -2.4999843752e-05, rtol=1e-9)
    np.testing.assert_allclose(out['loss'].item(), 0.530608477915, rtol=1e-9)


@pytest.mark.parametrize('scale', [1.0, 14.3, 100.0])
def test_t3_untrained_no_tower(scale):
    f, g = random_unit(7, 6, seed=1), random_unit(7, 6, seed=2)
    out = clipn_loss(f, g, g.clone(), scale)
    np.testing.assert_allclose(out['loss_yes'].item(), LN2, rtol=1e-12)
    np.testing.assert_allclose(out['loss_no'].item(), LN2, rtol=1e-12)
    np.testing.assert_allclose(out['loss_tso'].item(), 1.99, rtol=1e-9)
    np.testing.assert_allclose(out['loss'].item(), T3_TOTAL, rtol=1e-9)
    # float32 inputs: within float32 accuracy
    out32 = clipn_loss(f.float(), g.float(), g.float(), scale)
    assert out32['loss'].dtype == torch.float32
    np.testing.assert_allclose(out32['loss'].item(), T3_TOTAL, rtol=1e-5)


def test_matches_pairwise_loop_with_and_without_class_mask():
    f, g, h = random_unit(6, 4, seed=3), random_unit(6, 4, seed=4), random_unit(6, 4, seed=5)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    for scale in (1.0, 5.0):
        for mask in (False, True):
            out = clipn_loss(f, g, h, scale, labels=labels, mask_same_class=mask)
            ref = loop_loss(f, g, h, scale, labels.tolist() if mask else None)
            for name, value in ref.items():
                np.testing.assert_allclose(out[name].item(), value, rtol=1e-10, err_msg=f'{name} mask={mask}')
    # masking drops 8 of the 30 ordered pairs, and changes L_no only
    plain = clipn_loss(f, g, h, 5.0)
    masked = clipn_loss(f, g, h, 5.0, labels=labels, mask_same_class=True)
    assert masked['loss_no'] != plain['loss_no']
    assert masked['loss_yes'] == plain['loss_yes'] and masked['loss_tso'] == plain['loss_tso']
    # labels are ignored without mask_same_class
    assert clipn_loss(f, g, h, 5.0, labels=labels)['loss'] == plain['loss']


def test_no_pair_left_gives_zero_l_no_and_a_usable_graph():
    f, g = random_unit(4, 3, seed=6), random_unit(4, 3, seed=7)
    z = random_unit(4, 3, seed=8).requires_grad_(True)
    out = clipn_loss(f, g, F.normalize(z, dim=1), 10.0, labels=torch.full((4, ), 3), mask_same_class=True)
    assert out['loss_no'].item() == 0.0
    out['loss'].backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0  # L_yes and L_tso still train h
    ref = loop_loss(f, g, F.normalize(z.detach(), dim=1), 10.0, [3, 3, 3, 3])
    np.testing.assert_allclose(out['loss'].item(), ref['loss'], rtol=1e-10)
    # N = 1: no pair i != j at all
    one = clipn_loss(f[:1], g[:1], g[:1], 10.0)
    assert one['loss_no'].item() == 0.0
    np.testing.assert_allclose(one['loss'].item(), 0.5 * (LN2 + 1.99), rtol=1e-9)


def test_cosine_tso_mode():
    f, g, h = t4_features()
    out = clipn_loss(f, g, h, 10.0, tso_mode='cosine')
    np.testing.assert_allclose(out['loss_tso'].item(), ((g * h).sum(1) + 1).mean().item(), rtol=1e-12)
    l2 = clipn_loss(f, g, h, 10.0)
    assert out['loss_no'] == l2['loss_no'] and out['loss_yes'] == l2['loss_yes']
    assert clipn_loss(f, g, h, 10.0, tso_mode='L2')['loss'] == l2['loss']  # the reference spells it 'L2'


def test_registered_module_outputs():
    f, g, h = t4_features()
    h = h.clone().requires_grad_(True)
    loss = MODELS.build(dict(type='CLIPNLoss', loss_weight=2.0))
    out = loss(f, g, h, 10.0)
    assert set(out) == {'loss', 'itbo_yes', 'itbo_no', 'tso'}
    assert [k for k in out if 'loss' in k] == ['loss']  # parse_losses sums only the total
    np.testing.assert_allclose(out['loss'].item(), 2 * 1.452960598682, rtol=1e-9)
    np.testing.assert_allclose(out['itbo_no'].item(), 2.542806363573, rtol=1e-9)
    np.testing.assert_allclose(out['tso'].item(), 0.363103667248, rtol=1e-9)
    assert out['loss'].requires_grad and not any(out[k].requires_grad for k in ('itbo_yes', 'itbo_no', 'tso'))
    labels = torch.tensor([0, 0, 1])
    masked = CLIPNLoss(mask_same_class=True)(f, g, h, 10.0, labels=labels)
    ref = clipn_loss(f, g, h, 10.0, labels=labels, mask_same_class=True)
    assert masked['loss'] == ref['loss'] and masked['itbo_no'] == ref['loss_no']


def direct_autograd_loss(f, g, h, s):
    """The loss in plain tensor ops: p via sigmoid of both logit matrices, log(1 - p) literally."""
    p = torch.sigmoid(s * f @ g.T - s * f @ h.T)
    n = f.shape[0]
    off = ~torch.eye(n, dtype=torch.bool)
    loss_yes = -torch.log(p.diagonal()).mean()
    loss_no = -torch.log(1 - p[off]).sum() / (n * n - n)
    loss_tso = (2 - torch.sqrt(2 - 2 * (g * h).sum(1) + 1e-4)).mean()
    return 0.5 * (loss_yes + loss_no + loss_tso)


def test_gradients_reach_only_no_feats_and_match_direct_formula():
    f, g = random_unit(5, 4, seed=9), random_unit(5, 4, seed=10)
    raw = torch.randn(5, 4, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    f_in, g_in = f.clone(), g.clone()
    z = raw.clone().requires_grad_(True)
    out = CLIPNLoss()(f_in, g_in, F.normalize(z, dim=1), 3.0)
    out['loss'].backward()
    assert f_in.grad is None and g_in.grad is None
    z_ref = raw.clone().requires_grad_(True)
    ref = direct_autograd_loss(f, g, F.normalize(z_ref, dim=1), 3.0)
    ref.backward()
    np.testing.assert_allclose(out['loss'].item(), ref.item(), rtol=1e-12)
    torch.testing.assert_close(z.grad, z_ref.grad, rtol=1e-9, atol=1e-12)


def test_half_precision_inputs():
    f, g, h = (x.half() for x in t4_features())
    out = clipn_loss(f, g, h, 10.0)
    assert out['loss'].dtype == torch.float32
    ref = clipn_loss(f.double(), g.double(), h.double(), 10.0)  # the same rounded features in float64
    np.testing.assert_allclose(out['loss'].item(), ref['loss'].item(), rtol=1e-5)
    # fp16 rounding can push g . g above 1 + 5e-5: the TSO radicand floor keeps the loss finite
    g16 = F.normalize(torch.randn(64, 512, generator=torch.Generator().manual_seed(12)), dim=1).half()
    assert torch.isfinite(clipn_loss(g16, g16, g16, 100.0)['loss'])


def test_bad_inputs():
    f, g, h = t4_features()
    with pytest.raises(ValueError, match='labels'):
        clipn_loss(f, g, h, 10.0, mask_same_class=True)
    with pytest.raises(ValueError, match='labels'):
        CLIPNLoss(mask_same_class=True)(f, g, h, 10.0)
    with pytest.raises(ValueError, match=r'\(3,\) tensor'):
        clipn_loss(f, g, h, 10.0, labels=torch.zeros(2), mask_same_class=True)
    with pytest.raises(ValueError, match='share one shape'):
        clipn_loss(f, g, h[:2], 10.0)
    with pytest.raises(ValueError, match='share one shape'):
        clipn_loss(f[:0], g[:0], h[:0], 10.0)
    with pytest.raises(ValueError, match=r'no_feats must be a floating \(B, D\)'):
        clipn_loss(f, g, h[0], 10.0)
    with pytest.raises(ValueError, match='floating'):
        clipn_loss(f.long(), g, h, 10.0)
    with pytest.raises(ValueError, match='tso_mode'):
        clipn_loss(f, g, h, 10.0, tso_mode='l1')
    with pytest.raises(ValueError, match='tso_mode'):
        CLIPNLoss(tso_mode='dot')
    with pytest.raises(ValueError, match='scalar'):
        clipn_loss(f, g, h, torch.ones(2))


# ------------------------------------------------------------------------------------------------ distributed

def make_problem():
    """A fixed global batch: frozen unit f and g, raw no-side inputs, a shared projection, a learnable log scale,
    and labels with repeats across the two ranks' chunks."""
    gen = torch.Generator().manual_seed(0)
    n = WORLD * LOCAL_BATCH
    return dict(f=F.normalize(torch.randn(n, DIM, generator=gen, dtype=torch.float64), dim=1),
                g=F.normalize(torch.randn(n, DIM, generator=gen, dtype=torch.float64), dim=1),
                z=torch.randn(n, DIM, generator=gen, dtype=torch.float64),
                w=torch.randn(DIM, DIM, generator=gen, dtype=torch.float64),
                log_scale=torch.tensor(1.7, dtype=torch.float64),
                labels=torch.tensor([0, 1, 2, 1, 0, 3]))


def run_loss(f, g, z, w, log_scale, labels, mask_same_class):
    """Loss and gradients (raw no-side inputs, shared projection, log scale) through the registered module."""
    z, w, log_scale = (t.clone().requires_grad_(True) for t in (z, w, log_scale))
    out = CLIPNLoss(mask_same_class=mask_same_class)(f, g, F.normalize(z @ w, dim=1), log_scale.exp(),
                                                     labels=labels)
    out['loss'].backward()
    return dict(loss=out['loss'].detach(), itbo_no=out['itbo_no'], z=z.grad, w=w.grad, log_scale=log_scale.grad)


def _worker(rank: int, port: int, out_dir: str) -> None:
    with gloo_group(rank, port, WORLD):
        p = make_problem()
        chunk = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        local = {k: (v[chunk] if k in ('f', 'g', 'z', 'labels') else v) for k, v in p.items()}
        (labels_all, f_all), offset = gather_features(local['labels'], local['f'])  # integer tensors gather too
        out = {mask: run_loss(**local, mask_same_class=mask) for mask in (False, True)}
        out.update(labels_all=labels_all, f_all=f_all, offset=offset)
        torch.save(out, osp.join(out_dir, f'rank{rank}.pt'))


def test_two_process_gloo_equals_global_batch(tmp_path):
    # fork: the children reuse the parent's imports (a spawned child re-imports mmood, ~10 s on a busy machine);
    # they run one intra-op thread, so no OpenMP pool is needed after the fork
    spawn_with_port(_worker, WORLD, (str(tmp_path), ), start_method='fork')
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD)]
    p = make_problem()
    for r, out in enumerate(ranks):
        assert out['offset'] == r * LOCAL_BATCH
        assert torch.equal(out['labels_all'], p['labels']) and out['labels_all'].dtype == torch.long
        assert torch.equal(out['f_all'], p['f'])
    for mask in (False, True):
        full = run_loss(**p, mask_same_class=mask)
        for out in ranks:  # every rank holds the global-batch loss
            torch.testing.assert_close(out[mask]['loss'], full['loss'], rtol=0, atol=1e-12)
            torch.testing.assert_close(out[mask]['itbo_no'], full['itbo_no'], rtol=0, atol=1e-12)
        # local no-side inputs: the per-rank gradients are the rows of the global gradient
        torch.testing.assert_close(torch.cat([out[mask]['z'] for out in ranks]), full['z'], rtol=0, atol=1e-12)
        # shared parameters: the per-rank gradients sum to the global one (DDP then averages)
        for name in ('w', 'log_scale'):
            torch.testing.assert_close(sum(out[mask][name] for out in ranks), full[name], rtol=0, atol=1e-12)
    assert ranks[0][True]['itbo_no'] != ranks[0][False]['itbo_no']  # the labels did mask pairs
