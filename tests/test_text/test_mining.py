"""NegLabel mining: the V3 vector (mining on the formula-generated embeddings of ``v2_embeddings``), ratio/count rules,
corpus reading, caching and determinism."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import CountingBackbone, tiny_backbone
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.text import (load_corpus, mine_indices, mine_negative_labels, quantile_similarity, read_selected_file,
                        split_counts)
from mmood.text.mining import MINING_DEFAULTS, merge_options
from mmood.utils.errors import ConfigError


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def v2_embeddings():
    pos = unit(np.cos(np.arange(32).reshape(4, 8) * 1.3 + 0.1))
    neg = unit(np.sin(np.arange(96).reshape(12, 8) * 2.1 + 0.5))
    return torch.from_numpy(pos), torch.from_numpy(neg)


def test_v3_quantiles_and_selection():
    pos, neg = v2_embeddings()
    q = quantile_similarity(neg, pos, 0.95, chunk_size=5)
    expected = [0.080281441038, 0.083935416628, 0.105924244899, 0.076941240922, 0.081145959285, 0.100010056829,
                0.071867564243, 0.077225830586, 0.092122129091, 0.065296238368, 0.072259153167, 0.082210984352]
    np.testing.assert_allclose(q.numpy(), expected, rtol=1e-9)
    assert torch.argsort(q, stable=True).tolist() == [9, 6, 10, 3, 7, 0, 4, 11, 1, 8, 5, 2]
    # one part of speech only: the other list is empty
    empty = torch.zeros(0, 8, dtype=torch.float64)
    sel, _ = mine_indices(neg, empty, pos, 0.95, neg_ratio=0.5)
    assert sorted(sel.tolist()) == [0, 3, 6, 7, 9, 10] and sel.tolist() == [9, 6, 10, 3, 7, 0]
    sel, _ = mine_indices(neg, empty, pos, 0.95, neg_ratio=0.15)
    assert sel.tolist() == [9]  # floor(12 * 0.15) = 1


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_row_quantile_matches_torch_quantile(dtype):
    """Within one ulp of the exact quantile of the given values at any q, whatever the torch version (torch 2.13
    rounds q * (K - 1) in float32, 2.14 in float64: their float32 results differ by a few ulp at q = 0.333), and
    the mined selection is the one torch.quantile gives."""
    from mmood.text.mining import row_quantile
    x = torch.randn(300, 101, generator=torch.Generator().manual_seed(0), dtype=dtype)
    x[:, 7] = x[:, 3]  # ties
    for q in (0.0, 0.05, 0.333, 0.5, 0.95, 0.999, 1.0):
        ours = row_quantile(x, q)
        assert ours.dtype == dtype
        exact = torch.quantile(x.double(), q, dim=1)  # float64 of the float32 values: the reference
        ulp = (torch.nextafter(ours.abs(), torch.tensor(float('inf'), dtype=dtype)) - ours.abs()).double()
        assert bool(((ours.double() - exact).abs() <= ulp).all()), q
    # the mined selection (the 15 % of candidates with the lowest quantile) is torch.quantile's, up to candidates
    # whose quantiles lie within a few ulp of the cut-off (where torch versions disagree among themselves)
    cand = F.normalize(torch.randn(3000, 32, generator=torch.Generator().manual_seed(1), dtype=dtype), dim=-1)
    ids = F.normalize(torch.randn(100, 32, generator=torch.Generator().manual_seed(2), dtype=dtype), dim=-1)
    for q in (0.333, 0.95):
        ours = quantile_similarity(cand, ids, q)
        ref = torch.quantile(cand @ ids.T, q, dim=1)
        keep = int(0.15 * len(ours))
        chosen = set(torch.argsort(ours, stable=True)[:keep].tolist())
        chosen_ref = set(torch.argsort(ref, stable=True)[:keep].tolist())
        cut = torch.sort(ours).values[keep - 1]
        tolerance = 8 * float(torch.nextafter(cut.abs(), torch.tensor(float('inf'), dtype=dtype)) - cut.abs())
        assert all(abs(float(ours[i] - cut)) <= tolerance for i in chosen ^ chosen_ref), q


def test_split_counts():
    assert split_counts(57193, 12807, 0.15) == (8578, 1921)  # the reference's 10,499 negatives
    assert split_counts(12, 0, 0.15) == (1, 0)
    assert split_counts(30, 10, num_neg=8) == (6, 2)
    with pytest.raises(ValueError, match='num_neg'):
        split_counts(3, 1, num_neg=10)
    with pytest.raises(ValueError, match='neg_ratio'):
        split_counts(3, 1, neg_ratio=0)


def test_quantile_ties_are_stable():
    id_emb = torch.eye(3)
    cand = torch.tensor([[0., 0., 1.], [0., 1., 0.], [0., 0., 1.]])
    q = quantile_similarity(cand, id_emb, 1.0)
    assert q.tolist() == [1.0, 1.0, 1.0]
    sel, _ = mine_indices(cand, torch.zeros(0, 3), id_emb, 1.0, neg_ratio=0.67)
    assert sel.tolist() == [0, 1]  # equal quantiles keep input order


def test_load_corpus_sorted_dedup(corpus_dir):
    nouns, adjs = load_corpus(corpus_dir)
    # sorted file order: adj.all, noun.act, noun.artifact; verb.* ignored
    assert adjs == [f'colour{i}' for i in range(12)]
    assert nouns[:20] == [f'thing{i}' for i in range(20, 40)] and nouns[-1] == 'zero'
    assert 'run' not in nouns + adjs
    with pytest.raises(FileNotFoundError, match='corpus_dir'):
        load_corpus(os.path.join(corpus_dir, 'nope'))


def test_shipped_corpus_reads():
    nouns, adjs = load_corpus('txtfiles/neglabel_corpus')
    assert len(nouns) > 50000 and len(adjs) > 10000
    assert len(set(nouns) | set(adjs)) == len(nouns) + len(adjs)


@pytest.fixture(scope='module')
def backbone():
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone())


def test_mining_cached_and_deterministic(backbone, corpus_dir, tmp_path, capsys):
    names = ['zero', 'one', 'two']
    id_emb = backbone.build_text_classifier(names, ['the nice {}'])
    counting = CountingBackbone(backbone)
    cache = CacheStore(str(tmp_path / 'cache'))
    mining = dict(corpus_dir=corpus_dir, neg_ratio=0.25)
    kwargs = dict(cache=cache, batch_size=16)
    first = mine_negative_labels(counting, id_emb, names, ['the nice {}'], mining, **kwargs)
    assert counting.encoded == 41 + 12 and first['cache_hit'] is False
    assert 'encoding corpus nouns' in capsys.readouterr().err  # progress bar
    assert first['num_noun'] == math.floor(41 * 0.25) and first['num_adj'] == 3
    # the result equals a direct computation
    nouns, adjs = load_corpus(corpus_dir)
    ne = backbone.encode_text([f'the nice {w}' for w in nouns])
    ae = backbone.encode_text([f'This is a {w} photo' for w in adjs])
    ni, ai = mine_indices(ne, ae, id_emb, 0.95, 0.25)
    assert first['prompts'] == [f'the nice {nouns[i]}' for i in ni] + [f'This is a {adjs[i]} photo' for i in ai]
    torch.testing.assert_close(first['emb'], torch.cat([ne[ni], ae[ai]]))
    # second run: nothing encoded, same selection
    second = mine_negative_labels(counting, id_emb, names, ['the nice {}'], mining, **kwargs)
    assert counting.encoded == 53 and second['cache_hit'] is True
    assert second['prompts'] == first['prompts'] and torch.equal(second['emb'], first['emb'])
    # other mining parameters: new selection, but word embeddings come from the cache
    third = mine_negative_labels(counting, id_emb, names, ['the nice {}'], dict(mining, neg_ratio=0.5), **kwargs)
    assert counting.encoded == 53 and third['cache_hit'] is False and len(third['prompts']) == 20 + 6
    # exclude_id_names drops "zero" (an ID name present in the corpus)
    excl = mine_negative_labels(backbone, id_emb, names, ['the nice {}'],
                                dict(mining, neg_ratio=1.0, exclude_id_names=True), **kwargs)
    assert 'the nice zero' not in excl['prompts'] and len(excl['prompts']) == 40 + 12
    incl = mine_negative_labels(backbone, id_emb, names, ['the nice {}'], dict(mining, neg_ratio=1.0), **kwargs)
    assert 'the nice zero' in incl['prompts']


class HashTower:
    """A text tower whose embeddings are a hash of each text (no weights): selection keys depend on its identity."""
    text_identity = 'fake-identity'

    def encode_text(self, texts, batch_size=None, progress=None, desc=None, normalize=True):
        import hashlib
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.int16).astype(np.float32) for t in texts]
        x = torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, 16)
        return F.normalize(x, dim=-1) if normalize else x


def test_selection_keys_are_stable(tmp_path):
    """The selection key is computed from the merged ``mining`` dict exactly as when the options were separate
    arguments: these keys (cache format 2) are those of mmood 0.2's flat arguments, so cached selections stay valid."""
    from mmood.models.heads import NegLabelHead, NegRefineHead
    from mmood.text.mining import SELECTION_NAMESPACE
    corpus = tmp_path / 'corpus'
    corpus.mkdir()
    (corpus / 'noun.a.txt').write_text('\n'.join(f'thing{i}' for i in range(30)) + '\nzero\nice_cream\n')
    (corpus / 'adj.all.txt').write_text('\n'.join(f'colour{i}' for i in range(12)) + '\n')
    names, tower = ['zero', 'one', 'two'], HashTower()
    id_emb = tower.encode_text([f'a {n}' for n in names])
    for i, (mining, id_ensemble, key) in enumerate([
            (dict(), 'unit_mean', 'a2940fd1a00831b2fc4ca980'),
            (dict(neg_ratio=0.3, exclude_id_names=True), 'raw_mean', '2e5b4e39f81203a559ded3e3'),
            (NegRefineHead().mining_cfg, 'raw_mean', '2420588d8b144b67123fdd0e')]):
        cache = CacheStore(str(tmp_path / f'cache{i}'))
        mine_negative_labels(tower, id_emb, names, ['a {}'], dict(mining, corpus_dir=str(corpus)), cache=cache,
                             progress=False, id_ensemble=id_ensemble)
        assert [e['key'] for e in cache.list_entries(SELECTION_NAMESPACE)] == [key], i
    assert dict(NegLabelHead().mining_cfg) == dict(MINING_DEFAULTS)


def test_mining_options_are_one_dict():
    assert merge_options('mining', MINING_DEFAULTS, None) == dict(MINING_DEFAULTS)
    merged = merge_options('mining', MINING_DEFAULTS, dict(neg_ratio=0.3))
    assert merged == dict(MINING_DEFAULTS, neg_ratio=0.3) and MINING_DEFAULTS['neg_ratio'] == 0.15
    with pytest.raises(ConfigError, match='Unknown key\\(s\\) "neg_ration" \\(did you mean "neg_ratio"\\?\\), "zzz" in '
                                          'NegLabelHead option `mining`; valid keys: corpus_dir, noun_prompt'):
        merge_options('mining', MINING_DEFAULTS, dict(neg_ration=0.3, zzz=1), 'NegLabelHead')
    with pytest.raises(ConfigError, match='option `mining` must be a dict of options, got float'):
        merge_options('mining', MINING_DEFAULTS, 0.3)
    with pytest.raises(ConfigError, match='in mine_negative_labels option `mining`'):
        mine_negative_labels(None, torch.zeros(1, 4), ['a'], ['{}'], dict(corpusdir='x'))


def test_selected_file(backbone, tmp_path):
    path = tmp_path / 'selected.txt'
    path.write_text('the nice yellow clintonia\nThis is a red photo\n\n')
    assert read_selected_file(str(path)) == ['the nice yellow clintonia', 'This is a red photo']
    out = mine_negative_labels(backbone, torch.zeros(3, 32), ['a', 'b', 'c'], ['{}'],
                               dict(corpus_dir='unused', selected_file=str(path)))
    torch.testing.assert_close(out['emb'], backbone.encode_text(out['prompts']))
    with pytest.raises(FileNotFoundError, match='selected_file'):
        read_selected_file(str(tmp_path / 'missing.txt'))


def test_prompt_sets():
    from mmood.text import resolve_templates
    assert resolve_templates('neglabel') == ['the nice {}']
    assert len(resolve_templates('plp5')) == 5
    assert resolve_templates('a {} b') == ['a {} b']
    with pytest.raises(ValueError, match='Unknown prompt set'):
        resolve_templates('nonsense')
    with pytest.raises(ValueError, match='placeholder'):
        resolve_templates(['no placeholder'])
