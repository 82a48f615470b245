"""CLIPContrastiveLoss: the formula, and the 2-process gloo run against the single-process global batch."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from conftest import gloo_group, spawn_with_port

from mmood.models.losses import CLIPContrastiveLoss, clip_contrastive_loss

WORLD = 2
LOCAL_BATCH = 3
DIM = 5


def direct_loss(f: torch.Tensor, g: torch.Tensor, s) -> torch.Tensor:
    """CLIP's loss written out: mean over i of -log softmax, both directions, halved."""
    sim = s * f @ g.T
    n = sim.shape[0]
    i2t = torch.stack([-(sim[i, i] - torch.log(torch.exp(sim[i]).sum())) for i in range(n)]).mean()
    t2i = torch.stack([-(sim[j, j] - torch.log(torch.exp(sim[:, j]).sum())) for j in range(n)]).mean()
    return (i2t + t2i) / 2


def make_problem():
    """A fixed global batch: raw features, a shared projection and a learnable log scale."""
    gen = torch.Generator().manual_seed(0)
    n = WORLD * LOCAL_BATCH
    return dict(x=torch.randn(n, DIM, generator=gen, dtype=torch.float64),
                y=torch.randn(n, DIM, generator=gen, dtype=torch.float64),
                w=torch.randn(DIM, DIM, generator=gen, dtype=torch.float64),
                log_scale=torch.tensor(1.3, dtype=torch.float64))


def run_loss(x, y, w, log_scale):
    """Loss and gradients (inputs, shared projection, log scale) through the registered module."""
    x, y, w, log_scale = (t.clone().requires_grad_(True) for t in (x, y, w, log_scale))
    loss = CLIPContrastiveLoss()(F.normalize(x @ w, dim=-1), F.normalize(y @ w, dim=-1), log_scale.exp())
    loss.backward()
    return dict(loss=loss.detach(), x=x.grad, y=y.grad, w=w.grad, log_scale=log_scale.grad)


def test_matches_direct_formula():
    p = make_problem()
    f, g = F.normalize(p['x'], dim=-1), F.normalize(p['y'], dim=-1)
    for s in (1.0, 14.3, 100.0):
        expected = direct_loss(f, g, s)
        assert torch.allclose(clip_contrastive_loss(f, g, s), expected, atol=1e-12)
        assert torch.allclose(CLIPContrastiveLoss(loss_weight=2.0)(f, g, torch.tensor(s, dtype=f.dtype)),
                              2 * expected, atol=1e-12)
    # matching pairs identical and far from the rest -> loss near 0; swapped captions -> large
    eye = torch.eye(4, dtype=torch.float64)
    assert clip_contrastive_loss(eye, eye, 100.0) < 1e-6
    assert clip_contrastive_loss(eye, eye.flip(0), 100.0) > 10


def test_gradients_match_direct_formula():
    p = make_problem()
    got = run_loss(**p)
    x, y, w, log_scale = (t.clone().requires_grad_(True) for t in (p['x'], p['y'], p['w'], p['log_scale']))
    direct_loss(F.normalize(x @ w, dim=-1), F.normalize(y @ w, dim=-1), log_scale.exp()).backward()
    for name, ref in dict(x=x.grad, y=y.grad, w=w.grad, log_scale=log_scale.grad).items():
        assert torch.allclose(got[name], ref, atol=1e-10), name


def test_shape_check():
    with pytest.raises(ValueError, match='both be'):
        clip_contrastive_loss(torch.zeros(3, 4), torch.zeros(2, 4), 1.0)


def _worker(rank: int, port: int, out_dir: str) -> None:
    with gloo_group(rank, port, WORLD):
        p = make_problem()
        chunk = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        out = run_loss(p['x'][chunk], p['y'][chunk], p['w'], p['log_scale'])
        torch.save(out, osp.join(out_dir, f'rank{rank}.pt'))


def test_two_process_gloo_equals_global_batch(tmp_path):
    spawn_with_port(_worker, WORLD, (str(tmp_path), ), start_method='fork')  # reuses the parent's imports
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD)]
    full = run_loss(**make_problem())
    for r in ranks:  # every rank holds the global-batch loss
        assert torch.allclose(r['loss'], full['loss'], atol=1e-12)
    # local inputs: the per-rank gradients are the rows of the global gradient
    assert torch.allclose(torch.cat([r['x'] for r in ranks]), full['x'], atol=1e-12)
    assert torch.allclose(torch.cat([r['y'] for r in ranks]), full['y'], atol=1e-12)
    # shared parameters: the per-rank gradients sum to the global one (DDP then averages)
    for name in ('w', 'log_scale'):
        assert torch.allclose(sum(r[name] for r in ranks), full[name], atol=1e-12), name
