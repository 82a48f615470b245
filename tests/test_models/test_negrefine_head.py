"""NegRefine's head on the tiny tower: batched scores equal image-by-image ones (NR-1), the primary score is
S_nl + 2 S_mm, S_mm equals a direct computation from encode_ensemble_cached, and the pair caches (in memory, then
a CacheStore shared by a fresh head) spare every text encoding on a repeated batch."""
import pytest
import torch
import torch.nn.functional as F
from conftest import CountingBackbone, tiny_backbone
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.models.heads import CSPHead, HeadContext, NegRefineHead, build_method
from mmood.models.heads.negrefine_head import COMPOSITE_NAMESPACE
from mmood.text.embeddings import build_text_classifier_cached, encode_ensemble_cached
from mmood.text.prompts import resolve_templates
from mmood.utils.errors import ConfigError

NAMES = ['zero', 'one', 'two']
NOUNS = ['white currant', 'pasqueflower', 'carotid artery', 'golden handshake', 'mandrake', 'sand verbena',
         'teapot', 'violin', 'lichen', 'harbour', 'meteor', 'quilt']
ADJS = ['bacchanalian pattern', 'gooey landscape', 'rutted creature', 'moody structure', 'calm vista', 'icy area']


@pytest.fixture(scope='module')
def tower():
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone()).eval()


@pytest.fixture(scope='module')
def id_text(tower):
    return build_text_classifier_cached(tower, NAMES, resolve_templates('csp_noun'), ensemble='raw_mean')


@pytest.fixture
def label_files(tmp_path):
    noun, adj = tmp_path / 'noun.txt', tmp_path / 'adj.txt'
    noun.write_text('\n'.join(NOUNS) + '\n')
    adj.write_text('\n'.join(ADJS) + '\n')
    return dict(noun=str(noun), adj=str(adj))


def context(backbone, id_text, cache=None):
    return HeadContext(id_text=id_text, logit_scale=100.0, class_names=list(NAMES),
                       templates=resolve_templates('csp_noun'), backbone=backbone, cache=cache, batch_size=64,
                       ensemble='raw_mean')


def make_head(files, backbone, id_text, cache=None, **options):
    head = NegRefineHead(mining=dict(selected_file=files), grouping=dict(ngroup=3), **options)
    return head.prepare(context(backbone, id_text, cache))


def feats(n, seed=0):
    return {'global': F.normalize(torch.randn(n, 32, generator=torch.Generator().manual_seed(seed)), dim=-1)}


def test_batched_equals_per_image_and_the_sum(single_thread, tower, id_text, label_files):
    head = make_head(label_files, tower, id_text)
    assert head.score_names == ('negrefine', 'negrefine_nl', 'negrefine_mm')
    assert len(head.neg_prompts) == 18 and head.neg_prompts[:2] == NOUNS[:2] and head.neg_prompts[12] == ADJS[0]
    batch = feats(6)
    out = head(batch)
    assert list(out) == ['negrefine', 'negrefine_nl', 'negrefine_mm']
    torch.testing.assert_close(out['negrefine'], out['negrefine_nl'] + 2 * out['negrefine_mm'], rtol=0, atol=1e-6)
    assert ((out['negrefine_mm'] > 0) & (out['negrefine_mm'] < 1)).all()
    # S_nl is CSP's grouped NegLabel score on the same negatives
    csp = CSPHead(mining=dict(selected_file=label_files), grouping=dict(ngroup=3)).prepare(context(tower, id_text))
    torch.testing.assert_close(out['negrefine_nl'], csp(batch)['csp'], rtol=0, atol=1e-7)
    # image by image, with a fresh head (its own encodings): the same scores
    single = make_head(label_files, tower, id_text)
    for b in range(6):
        one = single({'global': batch['global'][b:b + 1]})
        for name in out:
            assert float(one[name]) == pytest.approx(float(out[name][b]), abs=1e-5), (name, b)
        # the same head (the batch's embeddings in memory): S_mm to rounding, no matrix product in between
        same = head({'global': batch['global'][b:b + 1]})
        assert float(same['negrefine_mm']) == pytest.approx(float(out['negrefine_mm'][b]), abs=1e-9)
    # a tiny or no LRU changes nothing
    for size in (7, 0):
        small = make_head(label_files, tower, id_text, matching=dict(pair_cache_size=size))
        torch.testing.assert_close(small(batch)['negrefine'], out['negrefine'], rtol=0, atol=1e-5)
        assert small.pair_cache_stats['kept'] == min(size, small.pair_cache_stats['misses'])


def test_mm_equals_direct_computation(single_thread, tower, id_text, label_files):
    head = make_head(label_files, tower, id_text, matching=dict(k_neg=4), mm_weight=3.0)
    batch = feats(4, seed=3)
    out = head(batch)
    h = batch['global']
    neg_emb = encode_ensemble_cached(tower, NOUNS, 'csp_noun', 'raw_mean', progress=False)
    neg_emb = torch.cat([neg_emb, encode_ensemble_cached(tower, ADJS, 'csp_adj', 'raw_mean', progress=False)])
    labels = NOUNS + ADJS
    for b in range(4):
        pos = 100 * h[b] @ id_text.T
        neg = 100 * h[b] @ neg_emb.T
        top_p = torch.topk(pos, 3).indices.tolist()  # min(k_pos=5, K=3)
        top_n = torch.topk(neg, 4).indices.tolist()
        texts = [f'{NAMES[p]} and {labels[n]}' for p in top_p for n in top_n]
        emb = encode_ensemble_cached(tower, texts, 'csp_noun', 'raw_mean', progress=False)
        comp = 100 * emb @ h[b]
        v = torch.stack([neg[n] for _ in top_p for n in top_n])
        want = torch.sigmoid(comp - v).max()
        assert float(out['negrefine_mm'][b]) == pytest.approx(float(want), abs=1e-5)
    torch.testing.assert_close(out['negrefine'], out['negrefine_nl'] + 3 * out['negrefine_mm'], rtol=0, atol=1e-6)


def test_pair_cache(single_thread, tower, id_text, label_files, tmp_path):
    cache = CacheStore(str(tmp_path / 'cache'))
    counting = CountingBackbone(tower)
    head = make_head(label_files, counting, id_text, cache=cache)
    prepared = counting.encoded  # the negatives: 12 nouns x 8 templates + 6 labels x 4
    assert prepared == 12 * 8 + 6 * 4
    batch = feats(5, seed=1)
    first = head(batch)
    stats = head.pair_cache_stats
    unique = stats['misses']
    assert 0 < unique <= 5 * 15 and stats['hits'] == 0 and stats['store_misses'] == 1
    assert counting.encoded - prepared == unique * 8 and stats['encoded'] == unique == stats['kept']
    # the same batch again: every composite is in memory
    again = head(batch)
    assert counting.encoded - prepared == unique * 8 and head.pair_cache_stats['hits'] == unique
    torch.testing.assert_close(again['negrefine'], first['negrefine'], rtol=0, atol=0)
    # a fresh head on the same store: the negatives and the batch's composites come from the cache
    counting.encoded = 0
    fresh = make_head(label_files, counting, id_text, cache=cache)
    out = fresh(batch)
    assert counting.encoded == 0 and fresh.pair_cache_stats['store_hits'] == 1
    torch.testing.assert_close(out['negrefine'], first['negrefine'], rtol=0, atol=0)
    assert len(cache.list_entries(COMPOSITE_NAMESPACE)) == 1


def test_options_and_errors(single_thread, tower, id_text, label_files):
    head = build_method('negrefine', dict(mining=dict(selected_file=label_files), grouping=dict(ngroup=3)))
    assert isinstance(head, NegRefineHead) and head.templates == 'csp_noun'
    assert (head.k_pos, head.k_neg, head.mm_weight, head.pair_cache_size) == (5, 5, 2.0, 100000)
    assert head.mining_cfg['percentile'] == 1.0 and head.mining_cfg['exclude_id_names'] == 'exact_nouns'
    assert head.mining_cfg['clean_words'] is True and head.mining_cfg['replace_underscores'] is True
    # CSP's mining defaults under NegRefine's three rules
    assert dict(head.mining_cfg, selected_file=None) == \
        dict(CSPHead().mining_cfg, percentile=1.0, exclude_id_names='exact_nouns', clean_words=True)
    mined = NegRefineHead(mining=dict(exclude_id_names=True)).mining_cfg  # mmood's earlier rule; the rest kept
    assert mined['exclude_id_names'] is True and mined['clean_words'] is True and mined['percentile'] == 1.0
    with pytest.raises(ValueError, match='exclude_id_names'):
        NegRefineHead(mining=dict(exclude_id_names='nouns'))
    with pytest.raises(ConfigError, match='"k_negs" \\(did you mean "k_neg"\\?\\) in NegRefineHead option `matching`; '
                                          'valid keys: k_pos, k_neg, composite_templates'):
        NegRefineHead(matching=dict(k_negs=3))
    assert len(head.composite_templates) == 8 and head.composite_ensemble == 'raw_mean'
    with pytest.raises(ValueError, match='k_neg'):
        make_head(label_files, tower, id_text, matching=dict(k_neg=19))
    with pytest.raises(ValueError, match='k_pos'):
        NegRefineHead(matching=dict(k_pos=0))
    with pytest.raises(ValueError, match='ensemble'):
        NegRefineHead(matching=dict(composite_ensemble='median'))
    with pytest.raises(ValueError, match='text tower'):
        NegRefineHead(mining=dict(selected_file=label_files), grouping=dict(ngroup=3)).prepare(
            HeadContext(id_text=id_text))
    prefixed = make_head(label_files, tower, id_text, prefix='x_')(feats(2))
    assert list(prefixed) == ['x_negrefine', 'x_negrefine_nl', 'x_negrefine_mm']
    torch.testing.assert_close(prefixed['x_negrefine'], prefixed['x_negrefine_nl'] + 2 * prefixed['x_negrefine_mm'])
