"""CLIPN scores CTW and ATD: hand vectors (IDs local to this module) T1 (three images, four classes, several scales),
T2 (a tie in the yes logits), T3 (untrained no tower: p_yes = 0.5), dtypes and input checks."""
import numpy as np
import pytest
import torch

from mmood.scores import clipn_p_yes, clipn_scores
from mmood.scores.logits import energy_score, maxlogit_score, msp_score

COS_YES = [[.30, .25, .20, .10], [.22, .21, .20, .19], [.15, .28, .27, .05]]
COS_NO = [[.26, .27, .10, .12], [.25, .18, .21, .22], [.16, .29, .20, .04]]

# s -> (CTW, ATD) of T1
T1 = {
    100.0: ([.982013790038, .047425873178, .268941421370], [.976240193195, .281143763828, .465308010746]),
    10.0: ([.598687660112, .425557483188, .475020812521], [.569543565112, .476133221131, .553959716328]),
}


def t1_inputs(dtype=torch.float64):
    return torch.tensor(COS_YES, dtype=dtype), torch.tensor(COS_NO, dtype=dtype)


@pytest.mark.parametrize('scale', sorted(T1))
def test_t1_ctw_atd(scale):
    cos_yes, cos_no = t1_inputs()
    out = clipn_scores(cos_yes, cos_no, scale)
    assert set(out) == {'ctw', 'atd'}
    assert out['ctw'].dtype == torch.float64 and out['ctw'].shape == (3, )
    np.testing.assert_allclose(out['ctw'].numpy(), T1[scale][0], rtol=1e-9)
    np.testing.assert_allclose(out['atd'].numpy(), T1[scale][1], rtol=1e-9)


def test_t1_p_yes_row0_and_default_scale():
    cos_yes, cos_no = t1_inputs()
    np.testing.assert_allclose(clipn_p_yes(cos_yes, cos_no)[0].numpy(),
                               [.982013790038, .119202922022, .999954602131, .119202922022], rtol=1e-9)
    np.testing.assert_allclose(clipn_scores(cos_yes, cos_no)['ctw'].numpy(), T1[100.0][0], rtol=1e-9)


def test_t1_logit_scores_at_scale_10():
    # s = 100 is covered in test_logits.py; the yes logits of CLIPN go through the same functions
    logits = 10 * t1_inputs()[0]
    np.testing.assert_allclose(msp_score(logits).numpy(), [.473990846254, .288651405157, .439053250111], rtol=1e-9)
    np.testing.assert_allclose(maxlogit_score(logits).numpy(), [3, 2.2, 2.8], rtol=1e-9)
    np.testing.assert_allclose(energy_score(logits).numpy(), [3.746567269174, 3.442535529455, 3.623134574606],
                               rtol=1e-9)


def test_t2_tie_takes_first_index():
    cos_yes = torch.tensor([[.25, .25, .10]], dtype=torch.float64)
    cos_no = torch.tensor([[.30, .20, 0.]], dtype=torch.float64)
    out = clipn_scores(cos_yes, cos_no, 100.0)
    np.testing.assert_allclose(out['ctw'].numpy(), [.006692850924], rtol=1e-9)  # class 1 would give .9933
    np.testing.assert_allclose(out['atd'].numpy(), [.500000076469], rtol=1e-9)
    np.testing.assert_allclose(msp_score(100 * cos_yes).numpy(), [.499999923524], rtol=1e-9)
    np.testing.assert_allclose(energy_score(100 * cos_yes).numpy(), [25.693147333511], rtol=1e-9)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_t3_untrained_no_tower_gives_one_half(dtype):
    gen = torch.Generator().manual_seed(0)
    cos = torch.rand(17, 9, generator=gen, dtype=torch.float64).mul(2).sub(1).to(dtype)
    for scale in (1.0, 100.0):
        out = clipn_scores(cos, cos.clone(), scale)
        assert (out['ctw'] == 0.5).all()
        # ATD = 0.5 * sum(softmax) = 0.5 up to the rounding of the softmax sum
        torch.testing.assert_close(out['atd'], torch.full((17, ), 0.5, dtype=dtype), rtol=0,
                                   atol=1e-15 if dtype == torch.float64 else 1e-6)


def test_single_class_and_saturation():
    cos_yes = torch.tensor([[0.3], [0.1]])
    cos_no = torch.tensor([[0.1], [0.3]])
    out = clipn_scores(cos_yes, cos_no, 100.0)
    # with C = 1 the softmax is 1, so ATD = CTW = p_yes
    torch.testing.assert_close(out['ctw'], out['atd'])
    torch.testing.assert_close(out['ctw'], torch.sigmoid(torch.tensor([20.0, -20.0])))
    # extreme logits stay finite and inside [0, 1]
    big = clipn_scores(torch.tensor([[1.0, -1.0]]), torch.tensor([[-1.0, 1.0]]), 1000.0)
    for value in big.values():
        assert torch.isfinite(value).all() and (value >= 0).all() and (value <= 1).all()


def test_half_precision_is_upcast():
    cos_yes, cos_no = t1_inputs(torch.float16)
    for dtype in (torch.float16, torch.bfloat16):
        out = clipn_scores(cos_yes.to(dtype), cos_no.to(dtype), 10.0)
        assert out['ctw'].dtype == torch.float32 and out['atd'].dtype == torch.float32
    ref = clipn_scores(cos_yes.double(), cos_no.double(), 10.0)  # the same (rounded) cosines in float64
    out = clipn_scores(cos_yes, cos_no, 10.0)
    for name in ('ctw', 'atd'):
        np.testing.assert_allclose(out[name].numpy(), ref[name].numpy(), rtol=1e-5)
    # a float64 partner wins the promotion
    assert clipn_scores(cos_yes.float(), cos_no.double(), 10.0)['atd'].dtype == torch.float64


def test_bad_inputs():
    cos_yes, cos_no = t1_inputs()
    with pytest.raises(ValueError, match='same shape'):
        clipn_scores(cos_yes, cos_no[:, :3])
    with pytest.raises(ValueError, match=r'cos_no must have shape \(B, C\)'):
        clipn_scores(cos_yes, cos_no[0])
    with pytest.raises(ValueError, match=r'cos_yes must have shape \(B, C\)'):
        clipn_scores(cos_yes[None], cos_no)
    with pytest.raises(ValueError, match='C >= 1'):
        clipn_scores(torch.zeros(2, 0), torch.zeros(2, 0))
    with pytest.raises(ValueError, match='floating'):
        clipn_scores(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3))
    with pytest.raises(ValueError, match='torch.Tensor'):
        clipn_scores(COS_YES, cos_no)
    for scale in (0.0, -1.0, float('nan'), float('inf')):
        with pytest.raises(ValueError, match='logit_scale'):
            clipn_scores(cos_yes, cos_no, scale)
