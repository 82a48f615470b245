"""GL-MCM and L-MCM scores: vector V4 (ID local to this module): formula-generated global and local features
(``_v4_inputs``)."""
import numpy as np
import pytest
import torch

from mmood.scores.glmcm import glmcm_score, local_mcm_score
from mmood.scores.mcm import mcm_score


def _unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _v4_inputs():
    pos = _unit(np.cos(np.arange(32).reshape(4, 8) * 1.3 + 0.1))
    neg = _unit(np.sin(np.arange(96).reshape(12, 8) * 2.1 + 0.5))
    img = _unit(0.5 * pos[:3] + np.array([0.2, 0.5, 0.8])[:, None] * neg[:3] +
                0.1 * np.sin(np.arange(24).reshape(3, 8) * 0.7 + 0.3))
    loc = _unit(np.cos(np.arange(96).reshape(3, 2, 2, 8) * 0.9 + 0.2))
    return torch.from_numpy(img @ pos.T), torch.from_numpy(loc @ pos.T)  # (3, 4), (3, 2, 2, 4)


def test_v4_local_mcm():
    _, local_cos = _v4_inputs()
    expected = [0.425845564264, 0.470777885754, 0.458802110163]
    np.testing.assert_allclose(local_mcm_score(local_cos).numpy(), expected, rtol=1e-9)
    # (B, P, K) layout gives the same value
    np.testing.assert_allclose(local_mcm_score(local_cos.reshape(3, 4, 4)).numpy(), expected, rtol=1e-9)


def test_v4_glmcm():
    global_cos, local_cos = _v4_inputs()
    np.testing.assert_allclose(
        glmcm_score(global_cos, local_cos, local_weight=1.0).numpy(),
        [0.822377480502, 0.955155294065, 0.870153107022], rtol=1e-9)
    np.testing.assert_allclose(
        glmcm_score(global_cos, local_cos).numpy(), [0.609454698370, 0.719766351188, 0.640752051941], rtol=1e-9)
    np.testing.assert_allclose(
        glmcm_score(global_cos, local_cos, local_weight=0.0).numpy(), mcm_score(global_cos).numpy(), rtol=0)


def test_v4_fp32():
    global_cos, local_cos = _v4_inputs()
    out = glmcm_score(global_cos.float(), local_cos.half())
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [0.609454698370, 0.719766351188, 0.640752051941], rtol=1e-3)
    out = glmcm_score(global_cos.float(), local_cos.float())
    np.testing.assert_allclose(out.numpy(), [0.609454698370, 0.719766351188, 0.640752051941], rtol=1e-5)


def test_local_softmax_is_per_patch():
    # patch 0 is confident about class 0, patch 1 about class 1: max over patches of the per-patch max
    local_cos = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]], dtype=torch.float64)
    expected = torch.softmax(torch.tensor([0.0, 3.0], dtype=torch.float64), 0).max().item()
    assert local_mcm_score(local_cos).item() == pytest.approx(expected, rel=1e-12)


def test_bad_inputs():
    global_cos, local_cos = _v4_inputs()
    with pytest.raises(ValueError, match='Batch sizes differ'):
        glmcm_score(global_cos[:2], local_cos)
    with pytest.raises(ValueError, match='Class counts differ'):
        glmcm_score(global_cos[:, :3], local_cos)
    with pytest.raises(ValueError, match=r'\(B, P, K\)'):
        local_mcm_score(global_cos)
    with pytest.raises(ValueError, match='tau'):
        local_mcm_score(local_cos, tau=-1.0)
