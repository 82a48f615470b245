"""CSP (docs/csp.md), on hand vectors whose IDs are local to this module: conjugation (CT1), template ensembles (CT2),
mining with the max-cosine cut-off (CT3), the score (CT4), and the candidate pool built from a generated corpus by the
real mining code and the head."""
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.models.heads import CSPHead, HeadContext, build_method
from mmood.scores import group_permutation, neglabel_score
from mmood.text import load_corpus, mine_indices, mine_negative_labels, quantile_similarity
from mmood.text.csp import CSP_SUPERCLASSES, conjugate
from mmood.text.embeddings import build_text_classifier_cached, encode_ensemble_cached
from mmood.text.prompts import resolve_templates


def unit(rows):
    return F.normalize(torch.tensor(rows, dtype=torch.float64), dim=-1)


# ---------------------------------------------------------------------------------------------- CT1
def test_ct1_conjugation():
    adjs = ['white', 'lively', 'calm', 'a-ok', 'silent']
    assert conjugate(adjs) == ['white creature', 'lively area', 'calm vista', 'a-ok area', 'silent environment']
    rng = random.Random(0)
    assert [rng.choice(range(14)) for _ in range(10)] == [13, 6, 12, 6, 0, 4, 8, 7, 6, 12]
    assert conjugate(adjs, seed=1) != conjugate(adjs)  # the seed matters
    assert conjugate(adjs) == conjugate(adjs)  # no global state
    everything = conjugate(adjs[:2], mode='all')
    assert everything[:2] == ['white environment', 'white space'] and len(everything) == 28
    with pytest.raises(ValueError, match='random'):
        conjugate(adjs, mode='some')


# ---------------------------------------------------------------------------------------------- CT2
class FixedTower:
    """Raw text embeddings from a table (template, word) -> vector."""
    text_identity = {'model': 'fixed'}

    def __init__(self, table):
        self.table = table

    def encode_text(self, texts, normalize=True, **kwargs):
        emb = torch.tensor([self.table[t] for t in texts], dtype=torch.float32)
        return F.normalize(emb, dim=-1) if normalize else emb


def test_ct2_raw_and_unit_mean():
    tower = FixedTower({'a w': [3, 0, 0], 'b w': [0, 1, 0]})
    templates = ['a {}', 'b {}']
    raw = encode_ensemble_cached(tower, ['w'], templates, 'raw_mean', progress=False)
    unit_ = encode_ensemble_cached(tower, ['w'], templates, 'unit_mean', progress=False)
    np.testing.assert_allclose(raw[0].numpy(), [0.948683, 0.316228, 0], atol=1e-6)
    np.testing.assert_allclose(unit_[0].numpy(), [0.707107, 0.707107, 0], atol=1e-6)
    # the classifier's prototypes follow the same rule
    np.testing.assert_allclose(build_text_classifier_cached(tower, ['w'], templates, ensemble='raw_mean').numpy(),
                               raw.numpy())
    with pytest.raises(ValueError, match='ensemble'):
        encode_ensemble_cached(tower, ['w'], templates, 'median')


# ---------------------------------------------------------------------------------------------- CT3
ID = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, -1, 0], [-1, 0, 0]])
ADJ = unit([[0.02, 0.01, 1], [0.7, -0.7, 0.1], [-0.6, 0.5, 0.6]])
NOUN = unit([[1, 0.02, 0.01], [0.3, 0.3, 0.9], [0.6, 0.6, 0.5], [-0.2, 0.1, -1], [0.5, 0.7, -0.5]])


def test_ct3_cutoff():
    q = quantile_similarity(ADJ, ID, 0.95)
    np.testing.assert_allclose(q.numpy(), [0.803799, 0.703526, 0.609208], atol=1e-6)
    cut = quantile_similarity(ADJ, ID, 0.95, max_sim_cutoff=0.95)
    np.testing.assert_allclose(cut.numpy(), [1, 0.703526, 0.609208], atol=1e-6)
    assert mine_indices(NOUN[:0], ADJ, ID, 0.95, num_neg=1, max_sim_cutoff=0.95)[1].tolist() == [2]
    np.testing.assert_allclose(quantile_similarity(ADJ, ID, 0.5).numpy(), [0.009998, 0.100504, 0.507673], atol=1e-6)
    assert mine_indices(NOUN[:0], ADJ, ID, 0.5, num_neg=1, max_sim_cutoff=0.95)[1].tolist() == [1]
    assert mine_indices(NOUN[:0], ADJ, ID, 0.5, num_neg=1)[1].tolist() == [0]  # without the cut-off
    np.testing.assert_allclose(quantile_similarity(NOUN, ID, 0.95).numpy(),
                               [0.803799, 0.783929, 0.609208, 0.175662, 0.663325], atol=1e-6)
    np.testing.assert_allclose(quantile_similarity(NOUN, ID, 1.0).numpy(),
                               [0.999750, 0.904534, 0.609208, 0.195180, 0.703526], atol=1e-6)
    assert mine_indices(NOUN, ADJ[:0], ID, 0.95, num_neg=2, max_sim_cutoff=0.95)[0].tolist() == [3, 2]


def test_index_quantile_is_adanegs():
    """AdaNeg's rule: the ascending row's element at int(p·K), no interpolation."""
    sim = torch.rand(7, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cand, ids = torch.eye(7, dtype=torch.float64), sim.T.contiguous()  # cand @ ids.T = sim
    got = quantile_similarity(cand, ids, 0.95, quantile='index')
    torch.testing.assert_close(got, sim.sort(dim=1).values[:, int(0.95 * 20)])
    assert not torch.allclose(got, quantile_similarity(cand, ids, 0.95))


# ---------------------------------------------------------------------------------------------- CT4
def test_ct4_score_is_neglabels():
    pos = torch.tensor([[0.31, 0.24, 0.22], [0.21, 0.19, 0.20]], dtype=torch.float64)
    neg = torch.tensor([[0.29, 0.18, 0.30, 0.21, 0.27], [0.26, 0.18, 0.25, 0.20, 0.24]], dtype=torch.float64)
    np.testing.assert_allclose(neglabel_score(pos, neg, 0.01).numpy(), [0.657446, 0.006680], atol=1e-6)
    np.testing.assert_allclose(neglabel_score(pos, neg, 0.01, ngroup=2).numpy(), [0.806071, 0.018322], atol=1e-6)
    perm = torch.tensor([3, 1, 0, 2])
    np.testing.assert_allclose(neglabel_score(pos[:1], neg[:1], 0.01, ngroup=2, perm=perm).numpy(), [0.832712],
                               atol=1e-6)
    assert group_permutation(5, 2, seed=0).tolist() == group_permutation(4, 2, seed=0).tolist()  # tail dropped first


# ---------------------------------------------------------------------------------------------- the pool
@pytest.fixture(scope='module')
def tower():
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone())


def write_corpus(root):
    root.mkdir()
    (root / 'adj.all.txt').write_text('red\nblue\ncalm\nbright\n')
    (root / 'adj.pert.txt').write_text('solar\n')
    (root / 'noun.artifact.txt').write_text('red\nhammer\nzero\nboat\n')  # red: an adjective (sorted, adj first)
    (root / 'noun.person.txt').write_text('baker\n')
    (root / 'noun.plant.txt').write_text('tree\nmoss\nfern\nivy\n')
    return str(root)


def test_pool_construction_and_mining(tower, tmp_path, caplog):
    corpus = write_corpus(tmp_path / 'corpus')
    names = ['zero', 'one', 'two']
    id_emb = build_text_classifier_cached(tower, names, resolve_templates('csp_noun'), ensemble='raw_mean')
    opts = dict(corpus_dir=corpus, noun_prompt='csp_noun', adj_prompt='csp_adj', ensemble='raw_mean',
                exclude_files=('noun.person.txt', 'adj.pert.txt', 'noun.group.txt'), conjugation='random',
                max_sim_cutoff=0.95, neg_ratio=0.5)
    out = mine_negative_labels(tower, id_emb, names, ['csp_noun'], opts, progress=False)
    nouns, adjs = load_corpus(corpus, opts['exclude_files'])
    assert nouns == ['hammer', 'zero', 'boat', 'tree', 'moss', 'fern', 'ivy']
    assert adjs == ['red', 'blue', 'calm', 'bright']
    conj = conjugate(adjs)  # one seeded draw per adjective, in corpus order
    assert conj == [f'{a} {w}' for a, w in zip(adjs, [CSP_SUPERCLASSES[i] for i in (13, 6, 12, 6)])]
    # the direct computation: ensembles of raw embeddings, cut-off, 50 % of each part, nouns first
    noun_emb = F.normalize(torch.stack([tower.encode_text([t.format(w) for w in nouns], normalize=False)
                                        for t in resolve_templates('csp_noun')]).mean(0), dim=-1)
    adj_emb = F.normalize(torch.stack([tower.encode_text([t.format(w) for w in conj], normalize=False)
                                       for t in resolve_templates('csp_adj')]).mean(0), dim=-1)
    ni, ai = mine_indices(noun_emb, adj_emb, id_emb, 0.95, 0.5, max_sim_cutoff=0.95)
    assert out['prompts'] == [nouns[i] for i in ni] + [conj[i] for i in ai]  # labels, not prompts, under ensembles
    assert (out['num_noun'], out['num_adj']) == (3, 2)
    torch.testing.assert_close(out['emb'], torch.cat([noun_emb[ni], adj_emb[ai]]), atol=1e-6, rtol=1e-5)
    # the cut-off acts: with a cut-off below every candidate's max cosine, all q = 1 and the order is the file's
    low = mine_negative_labels(tower, id_emb, names, ['csp_noun'], dict(opts, max_sim_cutoff=-1.0), progress=False)
    assert low['prompts'] == nouns[:3] + conj[:2]
    # AdaNeg's order and split rules
    adj_first = mine_negative_labels(tower, id_emb, names, ['csp_noun'], dict(opts, order='adj_first'),
                                     progress=False)
    assert adj_first['prompts'] == out['prompts'][3:] + out['prompts'][:3]
    floor_adj = mine_negative_labels(tower, id_emb, names, ['csp_noun'], dict(opts, num_neg=5, split='floor_adj'),
                                     progress=False)
    assert (floor_adj['num_noun'], floor_adj['num_adj']) == (4, 1)  # int(5 * 4 / 11) = 1 adjective
    noun_first = load_corpus(corpus, opts['exclude_files'], priority='noun')
    assert 'red' in noun_first[0] and 'red' not in noun_first[1]
    # a missing excluded file is reported, not fatal (CSP-7)
    mine_negative_labels(tower, id_emb, names, ['csp_noun'], dict(opts, exclude_files=('noun.group.txt', )),
                         progress=False)


def test_csp_head_defaults_and_cache(tower, tmp_path):
    corpus = write_corpus(tmp_path / 'corpus')
    names = ['zero', 'one', 'two']
    cache = CacheStore(str(tmp_path / 'cache'))
    id_emb = build_text_classifier_cached(tower, names, resolve_templates('csp_noun'), cache, ensemble='raw_mean')
    ctx = HeadContext(id_text=id_emb, class_names=names, templates=resolve_templates('csp_noun'), backbone=tower,
                      cache=cache, work_dir=str(tmp_path / 'work'), ensemble='raw_mean')
    options = dict(mining=dict(corpus_dir=corpus, neg_ratio=0.5), grouping=dict(ngroup=2))
    head = CSPHead(**options).prepare(ctx)
    assert head.score_names == ('csp', )
    assert (tmp_path / 'work' / 'csp_negatives.txt').read_text().splitlines() == head.neg_prompts
    assert 'baker' not in head.neg_prompts and not any(p.startswith('solar') for p in head.neg_prompts)
    feats = {'global': F.normalize(torch.randn(6, id_emb.shape[1], generator=torch.Generator().manual_seed(1)),
                                   dim=-1)}
    perm = group_permutation(len(head.neg_prompts), 2, seed=0)
    want = neglabel_score(feats['global'] @ id_emb.T, feats['global'] @ head.neg_emb.T, 0.01, ngroup=2, perm=perm)
    torch.testing.assert_close(head(feats)['csp'], want)
    # a second head finds the selection in the cache; `tools/score.py --methods csp` builds the same head
    again = CSPHead(**options).prepare(ctx)
    assert again.neg_prompts == head.neg_prompts
    method = build_method('csp', options).prepare(ctx)
    torch.testing.assert_close(method(feats)['csp'], want)
    # on a config whose classifier averages unit embeddings, the method still builds CSP's raw-mean prototypes
    unit_ctx = HeadContext(id_text=torch.zeros_like(id_emb), class_names=names, templates=['a photo of a {}'],
                           backbone=tower, cache=cache)
    torch.testing.assert_close(build_method('csp', options).prepare(unit_ctx).id_text, id_emb)


def test_underscores_read_as_spaces_before_dedup_and_draws(tower, tmp_path):
    """CSP's pool loop replaces "_" by a space and strips each line before its global de-duplication and its
    superclass draws: "ice_cream" and "ice cream" are one candidate, and a repeated adjective draws no superclass
    (CSPHead's default; NegLabel's reference keeps the lines as they are)."""
    root = tmp_path / 'corpus'
    root.mkdir()
    (root / 'adj.all.txt').write_text('big_top\ncool_headed\ncool headed\nred\n')
    (root / 'noun.food.txt').write_text('ice_cream\nbig top\nice cream\n  tea_set \n_lime_\n')
    nouns, adjs = load_corpus(str(root))
    assert nouns == ['ice_cream', 'big top', 'ice cream', 'tea_set', '_lime_']
    assert adjs == ['big_top', 'cool_headed', 'cool headed', 'red']
    nouns, adjs = load_corpus(str(root), replace_underscores=True)
    assert nouns == ['ice cream', 'tea set', 'lime']  # "big top" is the adjective's, "ice cream" read once
    assert adjs == ['big top', 'cool headed', 'red']
    # the draws: "red" takes the third, not the fourth, superclass of the seeded sequence
    assert conjugate(adjs) == ['big top creature', 'cool headed area', 'red vista']
    assert conjugate(['big_top', 'cool_headed', 'cool headed', 'red'])[-1] == 'red area'
    names = ['zero', 'one', 'two']
    id_emb = build_text_classifier_cached(tower, names, resolve_templates('csp_noun'), ensemble='raw_mean')
    opts = dict(corpus_dir=str(root), noun_prompt='csp_noun', adj_prompt='csp_adj', ensemble='raw_mean',
                conjugation='random', max_sim_cutoff=-1.0, neg_ratio=1.0)  # the whole pool, in order
    out = mine_negative_labels(tower, id_emb, names, ['csp_noun'], dict(opts, replace_underscores=True),
                               progress=False)
    assert out['prompts'] == nouns + conjugate(adjs)
    kept = mine_negative_labels(tower, id_emb, names, ['csp_noun'], opts, progress=False)  # the default: NegLabel's
    assert kept['prompts'][:kept['num_noun']] == ['ice_cream', 'big top', 'ice cream', 'tea_set', '_lime_']
    assert CSPHead().mining_cfg['replace_underscores'] is True
    from mmood.models.heads import NegLabelHead
    assert NegLabelHead().mining_cfg['replace_underscores'] is False


def test_shipped_corpus_pool_has_no_underscores():
    """The shipped WordNet corpus has no "_", so CSP's pool is the same with or without the replacement (57,493
    candidates: 46,446 nouns + 11,047 conjugated labels)."""
    from mmood.text.csp import CSP_EXCLUDE_FILES
    plain = load_corpus('txtfiles/neglabel_corpus', CSP_EXCLUDE_FILES)
    replaced = load_corpus('txtfiles/neglabel_corpus', CSP_EXCLUDE_FILES, replace_underscores=True)
    assert plain == replaced and (len(plain[0]), len(plain[1])) == (46446, 11047)
