"""GradNormHead: the h-view of CLIP's zero-shot classifier (z = the unit feature, W = 100 · T̂) and the probe view
(z = what the probe's linear layer reads), each against the L1 norm of dL/dW computed with autograd."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmood.models.heads import GradNormHead, HeadContext, LinearProbeHead, build_method
from mmood.scores import gradnorm_score


def autograd_gradnorm(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> np.ndarray:
    """||dL/dW||_1 of L = sum_c -log softmax(W z + b)_c, one sample at a time (all-ones targets)."""
    out = []
    for row in z.double():
        w = weight.detach().double().clone().requires_grad_(True)
        loss = -torch.log_softmax(row @ w.T + bias.double(), dim=-1).sum()
        loss.backward()
        out.append(float(w.grad.abs().sum()))
    return np.array(out)


def test_zero_shot_h_view():
    torch.manual_seed(0)
    text, feats = F.normalize(torch.randn(5, 8), dim=-1), F.normalize(torch.randn(7, 8), dim=-1)
    head = build_method('gradnorm').prepare(HeadContext(id_text=text))
    assert isinstance(head, GradNormHead) and head.score_names == ('gradnorm', ) and not head.requires_fit
    assert head.feature_kinds == ('global', )
    got = head({'global': feats})['gradnorm']
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), gradnorm_score(feats, 100.0 * feats @ text.T).float().numpy(), rtol=1e-6)
    np.testing.assert_allclose(got.numpy(), autograd_gradnorm(feats, 100.0 * text, torch.zeros(5)), rtol=1e-5)
    # by hand for one sample: ||h||_1 * sum_c |C p_c - 1|
    p = torch.softmax(100.0 * feats[0].double() @ text.T.double(), dim=0)
    by_hand = float(feats[0].double().abs().sum() * (5 * p - 1).abs().sum())
    assert float(got[0]) == pytest.approx(by_hand, rel=1e-5)


def test_probe_view():
    torch.manual_seed(1)
    probe = LinearProbeHead(6, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    ctx = HeadContext(id_text=F.normalize(torch.randn(4, 3), dim=-1), extra=dict(probe=probe))
    head = build_method('plp_gradnorm').prepare(ctx)
    assert head.score_names == ('plp_gradnorm', ) and head.feature_kinds == ('pre_proj', )
    x = torch.randn(5, 6)
    z = probe.standardize(x)  # what the probe's linear layer reads
    got = head({'pre_proj': x})['plp_gradnorm'].numpy()
    np.testing.assert_allclose(got, autograd_gradnorm(z, probe.fc.weight, probe.fc.bias), rtol=1e-5)


def test_options_are_checked():
    with pytest.raises(ValueError, match='view must be one of'):
        GradNormHead(view='pre_proj')
    with pytest.raises(ValueError, match='logit_scale=0'):
        GradNormHead(logit_scale=0)
    with pytest.raises(RuntimeError, match='prepare'):
        GradNormHead()({'global': torch.zeros(1, 3)})
