"""KLMatchingHead: KL-Matching of the zero-shot logits 100 · cos(h, e_k) (or of a probe's), its templates fitted on
the head's own logits of the ID-train features (in chunks), through METHODS and through a classifier."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.models.heads import HeadContext, KLMatchingHead, LinearProbeHead, build_method
from mmood.scores import klm_fit, klm_score


def test_klm_head_fits_and_scores_the_zero_shot_logits():
    torch.manual_seed(0)
    text = F.normalize(torch.randn(5, 8), dim=-1)
    train, test = F.normalize(torch.randn(40, 8), dim=-1), F.normalize(torch.randn(7, 8), dim=-1)
    head = build_method('klm', dict(fit_chunk=6)).prepare(HeadContext(id_text=text))
    assert isinstance(head, KLMatchingHead) and head.score_names == ('klm', ) and head.requires_fit
    assert head.feature_kinds == ('global', ) and not head.fitted
    with pytest.raises(RuntimeError, match='fit'):
        head({'global': test})
    head.fit({'global': train}, labels=torch.zeros(40, dtype=torch.long))  # labels unused: argmax classes
    assert head.fitted
    templates = klm_fit(100.0 * train @ text.T)
    torch.testing.assert_close(head.distributions, templates)  # fitted in chunks of 6 rows = in one pass
    expected = klm_score(100.0 * test @ text.T, templates).float()
    np.testing.assert_allclose(head({'global': test})['klm'].numpy(), expected.numpy(), rtol=1e-6)
    # by hand for one sample: -min_k sum_j p_j log(p_j / d_kj)
    p = torch.softmax(100.0 * test[0].double() @ text.T.double(), dim=0)
    by_hand = -min(float((p * (p / d).log()).sum()) for d in templates)
    assert float(head({'global': test[:1]})['klm']) == pytest.approx(by_hand, rel=1e-5)


def test_plp_klm_reads_the_probe():
    torch.manual_seed(1)
    probe = LinearProbeHead(6, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    ctx = HeadContext(id_text=F.normalize(torch.randn(4, 3), dim=-1), extra=dict(probe=probe))
    head = build_method('plp_klm').prepare(ctx)
    assert head.score_names == ('plp_klm', ) and head.feature_kinds == ('pre_proj', )
    train, test = torch.randn(30, 6), torch.randn(5, 6)
    head.fit({'pre_proj': train})
    with torch.no_grad():
        expected = klm_score(probe.logits(test), klm_fit(probe.logits(train)))
    np.testing.assert_allclose(head({'pre_proj': test})['plp_klm'].numpy(), expected.float().numpy(), rtol=1e-6)


def test_the_classifier_fits_the_head():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=dict(type='KLMatchingHead')))
    model.prepare()
    assert model.heads_to_fit() == [model.head] and model.primary_score == 'klm'
    train, test = F.normalize(torch.randn(12, model.id_text.shape[1]), dim=-1), \
        F.normalize(torch.randn(4, model.id_text.shape[1]), dim=-1)
    model.fit_heads({'global': train}, torch.zeros(12, dtype=torch.long))
    assert model.heads_to_fit() == []
    logits, scores = model.scores_from_features({'global': test})
    expected = klm_score(100.0 * test @ model.id_text.T, klm_fit(100.0 * train @ model.id_text.T))
    np.testing.assert_allclose(scores['klm'].numpy(), expected.float().numpy(), rtol=1e-6)


def test_options_are_checked():
    with pytest.raises(ValueError, match='fit_chunk=0'):
        KLMatchingHead(fit_chunk=0)
    with pytest.raises(ValueError, match='logit_scale=0'):
        KLMatchingHead(logit_scale=0)
