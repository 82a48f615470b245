"""GENHead: GEN of the zero-shot logits 100 · cos(h, e_k) (or of a probe), through METHODS and a classifier."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmood.models.heads import GENHead, HeadContext, build_method
from mmood.scores import gen_score


def test_gen_head_scores_the_zero_shot_logits():
    torch.manual_seed(0)
    text, feats = F.normalize(torch.randn(5, 8), dim=-1), F.normalize(torch.randn(7, 8), dim=-1)
    head = build_method('gen', dict(gamma=0.5, top_m=3)).prepare(HeadContext(id_text=text))
    assert isinstance(head, GENHead) and head.score_names == ('gen', ) and head.primary_score == 'gen'
    expected = gen_score(100.0 * feats @ text.T, 0.5, 3)
    np.testing.assert_allclose(head({'global': feats})['gen'].numpy(), expected.numpy(), rtol=1e-6)
    # by hand for one sample: -sum over the 3 largest probabilities of p^0.5 (1 - p)^0.5
    p = torch.softmax(100.0 * feats[0] @ text.T, dim=0).double().topk(3).values
    by_hand = float(-(p.sqrt() * (1 - p).sqrt()).sum())
    assert float(head({'global': feats[:1]})['gen']) == pytest.approx(by_hand, rel=1e-5)


def test_gen_head_options_are_checked():
    with pytest.raises(ValueError, match='gamma=0: 0 is outside the range'):  # declared: GENHead.option_ranges
        GENHead(gamma=0)
    with pytest.raises(ValueError, match='top_m=0'):
        GENHead(top_m=0)
