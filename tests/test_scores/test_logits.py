"""Logit scores (MSP, MaxLogit, Energy, L1 norm) on hand vectors (IDs local to this module): N10 = logits
[[2, 1, 0], [0, 0, 0]], T1 = CLIPN's yes cosines at scale 100, T6 = TOE's loss logits."""
import numpy as np
import pytest
import torch

from mmood.scores.logits import energy_score, l1_norm_score, maxlogit_score, msp_score

N10 = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_n10_energy():
    np.testing.assert_allclose(energy_score(N10).numpy(), [2.407606, 1.098612], atol=1e-6)


def test_n10_msp():
    np.testing.assert_allclose(msp_score(N10).numpy(), [0.665241, 0.333333], atol=1e-6)


def test_n10_l1_norm():
    np.testing.assert_allclose(l1_norm_score(N10).numpy(), [3.0, 0.0], atol=1e-6)
    assert (l1_norm_score(torch.randn(10, 7)) >= 0).all()


def test_maxlogit():
    np.testing.assert_array_equal(maxlogit_score(N10).numpy(), [2.0, 0.0])


def test_energy_is_id_high_lse_t6():
    z_id = torch.tensor([[2, .5, -1], [.1, .2, .3]], dtype=torch.float64)
    z_out = torch.tensor([[1, 1, 1], [3, -2, 0]], dtype=torch.float64)
    np.testing.assert_allclose(energy_score(z_id).numpy(), [2.241311296657, 1.301942848229], rtol=1e-9)
    np.testing.assert_allclose(energy_score(z_out).numpy(), [2.098612288668, 3.054985235377], rtol=1e-9)


def test_t1_clipn_scale_100():
    cos_yes = torch.tensor([[.30, .25, .20, .10], [.22, .21, .20, .19], [.15, .28, .27, .05]], dtype=torch.float64)
    logits = 100 * cos_yes
    np.testing.assert_allclose(msp_score(logits).numpy(), [.993262354809, .643914259888, .731057370552], rtol=1e-9)
    np.testing.assert_allclose(maxlogit_score(logits).numpy(), [30, 22, 28], rtol=1e-9)
    np.testing.assert_allclose(
        energy_score(logits).numpy(), [30.006760445594, 22.440189698561, 28.313263340025], rtol=1e-9)


def test_temperature():
    logits = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)
    t = 2.0
    np.testing.assert_allclose(energy_score(logits, t).item(), t * np.log(np.exp(1.0) + np.exp(0.5) + 1.0),
                               rtol=1e-12)
    np.testing.assert_allclose(msp_score(logits, t).item(), np.exp(1.0) / (np.exp(1.0) + np.exp(0.5) + 1.0),
                               rtol=1e-12)


def test_dtypes_and_stability():
    big = torch.tensor([[1000.0, 0.0]], dtype=torch.float16).float() * 10
    assert torch.isfinite(energy_score(big)).all()
    assert energy_score(N10.half()).dtype == torch.float32
    assert msp_score(N10.bfloat16()).dtype == torch.float32
    assert energy_score(N10.double()).dtype == torch.float64


def test_bad_inputs():
    with pytest.raises(ValueError, match=r'shape \(N, C\)'):
        msp_score(torch.zeros(3))
    with pytest.raises(ValueError, match='temperature'):
        energy_score(N10, temperature=0.0)
    with pytest.raises(ValueError, match='floating'):
        maxlogit_score(torch.zeros(2, 3, dtype=torch.long))
