"""Heads equal the pure score functions they wrap (the heads add only state and plumbing)."""
import pytest
import torch
import torch.nn.functional as F

from mmood.models.heads import MCMHead, NegLabelHead, neglabel_head
from mmood.scores import glmcm_score, group_permutation, mcm_score, neglabel_score


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize('shuffle,drop_first', [(True, True), (True, False), (False, True)])
def test_neglabel_head_matches_pure_function(monkeypatch, shuffle, drop_first):
    id_text, neg, h = unit(4, 16, seed=1), unit(23, 16, seed=2), unit(6, 16, seed=3)
    prompts = [f'the nice w{i}' for i in range(23)]
    monkeypatch.setattr(neglabel_head, 'mine_negative_labels',
                        lambda *a, **k: dict(prompts=prompts, emb=neg, num_noun=23, num_adj=0, cache_hit=False))
    head = NegLabelHead(ngroup=5, shuffle=shuffle, seed=3, drop_tail_before_shuffle=drop_first, tau=0.05)
    head.prepare(dict(backbone=None, id_text=id_text, class_names=['a'] * 4, templates=['{}']))
    assert head.neg_text.shape == (20, 16) and head.neg_prompts == prompts
    perm = group_permutation(23, 5, shuffle=shuffle, seed=3, drop_tail_before_shuffle=drop_first)
    expected = neglabel_score(h @ id_text.T, h @ neg.T, tau=0.05, ngroup=5, perm=perm)
    torch.testing.assert_close(head({'global': h}, id_text), expected)
    with pytest.raises(ValueError, match='ngroup=30 is larger than the number of negative labels \\(23\\)'):
        NegLabelHead(ngroup=30).prepare(dict(backbone=None, id_text=id_text, class_names=['a'] * 4,
                                             templates=['{}']))


def test_neglabel_head_needs_prepare():
    with pytest.raises(RuntimeError, match='prepare'):
        NegLabelHead()({'global': unit(2, 4)}, unit(3, 4))


def test_mcm_head_and_local_weight():
    id_text, h, loc = unit(5, 8, seed=4), unit(3, 8, seed=5), unit(3, 4, 8, seed=6)
    plain = MCMHead(tau=0.5)
    assert plain.feature_kinds == ('global', )
    torch.testing.assert_close(plain({'global': h}, id_text), mcm_score(h @ id_text.T, tau=0.5))
    gl = MCMHead(tau=0.5, local_weight=0.7)
    assert gl.feature_kinds == ('global', 'local')
    torch.testing.assert_close(gl({'global': h, 'local': loc}, id_text),
                               glmcm_score(h @ id_text.T, loc @ id_text.T, tau=0.5, local_weight=0.7))
    with pytest.raises(ValueError, match='tau'):
        MCMHead(tau=0)
