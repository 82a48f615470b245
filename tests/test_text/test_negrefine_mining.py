"""NegRefine's LLM-free fallback mining against its reference (``src/create_negs.py``,
``create_initial_negative_labels``; ``src/neg_filter.py``, ``_clean_words``): only nouns equal to an ID name are
skipped, case-sensitively, after the underscore replacement and the global de-duplication, so the adjectives and
their superclass draws stay as without the rule; the mined labels are cleaned (letters, ``_``, ``-``, spaces; at
least 3 characters; repeats dropped) and a label the cleaning changed is encoded again. mmood's earlier rule
(``exclude_id_names=True``: nouns and adjectives, ignoring case) stays reachable and differs on each point."""
import pytest
import torch
from conftest import CountingBackbone, tiny_backbone
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.models.heads import HeadContext, NegRefineHead
from mmood.text import ID_NAME_RULES, clean_labels, load_corpus, mine_negative_labels
from mmood.text.csp import conjugate
from mmood.text.embeddings import build_text_classifier_cached, encode_ensemble_cached
from mmood.text.prompts import resolve_templates

NAMES = ['Tiger', 'red', 'ice cream']


@pytest.fixture(scope='module')
def tower():
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone()).eval()


@pytest.fixture(scope='module')
def id_emb(tower):
    return build_text_classifier_cached(tower, NAMES, resolve_templates('csp_noun'), ensemble='raw_mean')


def write(root, files):
    root.mkdir()
    for name, lines in files.items():
        (root / name).write_text(''.join(f'{line}\n' for line in lines))
    return str(root)


# every candidate, in corpus order: a cut-off below every cosine ranks all of them last (q = 1, stable order)
POOL = dict(noun_prompt='csp_noun', adj_prompt='csp_adj', ensemble='raw_mean', conjugation='random',
            percentile=1.0, max_sim_cutoff=-1.0, neg_ratio=1.0, replace_underscores=True)


def pool(tower, id_emb, corpus, **options):
    out = mine_negative_labels(tower, id_emb, NAMES, ['csp_noun'], dict(POOL, corpus_dir=corpus, **options),
                               progress=False)
    return out['prompts'][:out['num_noun']], out['prompts'][out['num_noun']:]


def test_clean_labels_is_negrefines_rule():
    words = ["St. Elmo's fire", '3-D', "o'clock", 'oclock', 'ab', 'abc', 'y2k compliant', 'café', 'ice_cream',
             'well-being', ' a ']
    kept, rows = clean_labels(words, return_index=True)
    # only letters, "_", "-" and spaces survive (nothing stripped after); under 3 characters dropped; repeats once
    assert kept == ['St Elmos fire', "oclock", 'abc', 'yk compliant', 'café', 'ice_cream', 'well-being', ' a ']
    assert rows == [0, 2, 5, 6, 7, 8, 9, 10]
    assert clean_labels(words) == kept and clean_labels(kept) == kept  # idempotent
    assert clean_labels(['x1', '12', '-']) == []


def test_id_name_rules_case_adjectives_and_draws(tower, id_emb, tmp_path):
    corpus = write(tmp_path / 'corpus', {
        'adj.all.txt': ['calm', 'red', 'blue', 'bright', 'icy', 'zesty'],
        'noun.animal.txt': ['tiger', 'Tiger', 'lion'],
        'noun.food.txt': ['ice_cream', 'bread'],
    })
    adjs = ['calm', 'red', 'blue', 'bright', 'icy', 'zesty']
    # NegRefine: nouns equal to an ID name (case-sensitive, after "_" -> " ") skipped; every adjective drawn
    nouns, conj = pool(tower, id_emb, corpus, exclude_id_names='exact_nouns')
    assert nouns == ['tiger', 'lion', 'bread']  # "Tiger" and "ice cream" skipped, "tiger" kept (case)
    assert conj == conjugate(adjs) == ['calm creature', 'red area', 'blue vista', 'bright area', 'icy environment',
                                       'zesty place']  # the adjective "red" stays, no draw shifts
    assert pool(tower, id_emb, corpus)[1] == conj  # the draws of no rule at all
    # mmood's earlier rule: nouns and adjectives, ignoring case; "red" gone, so every later adjective draws earlier
    nouns, shifted = pool(tower, id_emb, corpus, exclude_id_names=True)
    assert nouns == ['lion', 'bread']
    assert shifted == conjugate([a for a in adjs if a != 'red'])
    assert shifted == ['calm creature', 'blue area', 'bright vista', 'icy area', 'zesty environment']
    # AdaNeg's 'exact': case-sensitive, adjectives too
    nouns, exact = pool(tower, id_emb, corpus, exclude_id_names='exact')
    assert nouns == ['tiger', 'lion', 'bread'] and exact == shifted
    # the skip compares the word after the underscore replacement, as the reference
    assert pool(tower, id_emb, corpus, exclude_id_names='exact_nouns', replace_underscores=False)[0] == \
        ['tiger', 'lion', 'ice_cream', 'bread']
    assert set(ID_NAME_RULES) == {False, True, 'exact', 'exact_nouns'}
    with pytest.raises(ValueError, match='exclude_id_names'):
        pool(tower, id_emb, corpus, exclude_id_names='nouns')


def test_skipped_noun_still_claims_its_word(tower, id_emb, tmp_path):
    """The reference marks a word seen before it skips the ID-name noun: the same word in a later adjective file
    is a duplicate, not an adjective (here with the noun files read first)."""
    corpus = write(tmp_path / 'corpus', {'adj.all.txt': ['Tiger', 'calm'], 'noun.animal.txt': ['Tiger', 'lion']})
    nouns, conj = pool(tower, id_emb, corpus, exclude_id_names='exact_nouns', priority='noun')
    assert nouns == ['lion'] and conj == conjugate(['calm'])


def test_cleaning_in_the_miner(tower, id_emb, tmp_path):
    corpus = write(tmp_path / 'corpus', {
        'adj.all.txt': ['y2k_compliant', 'calm'],
        'noun.artifact.txt': ["o'clock", 'oclock', "st. elmo's fire", '3-D', 'ab', 'teapot'],
    })
    cache = CacheStore(str(tmp_path / 'cache'))
    counting = CountingBackbone(tower)
    raw = mine_negative_labels(counting, id_emb, NAMES, ['csp_noun'], dict(POOL, corpus_dir=corpus), cache=cache,
                               progress=False)
    assert raw['prompts'] == ["o'clock", 'oclock', "st. elmo's fire", '3-D', 'ab', 'teapot', 'y2k compliant creature',
                              'calm area']
    counting.encoded = 0
    out = mine_negative_labels(counting, id_emb, NAMES, ['csp_noun'], dict(POOL, corpus_dir=corpus, clean_words=True),
                               cache=cache, progress=False)
    assert out['cache_hit'] is False  # another selection key
    assert out['prompts'] == ['oclock', 'st elmos fire', 'teapot', 'yk compliant creature', 'calm area']
    assert (out['num_noun'], out['num_adj']) == (3, 2)
    # only the labels the cleaning changed were encoded again: 2 nouns x 8 templates + 1 conjugated label x 4
    assert counting.encoded == 2 * 8 + 4
    want = torch.cat([encode_ensemble_cached(tower, out['prompts'][:3], 'csp_noun', 'raw_mean', progress=False),
                      encode_ensemble_cached(tower, out['prompts'][3:], 'csp_adj', 'raw_mean', progress=False)])
    torch.testing.assert_close(out['emb'], want, atol=1e-6, rtol=1e-5)
    again = mine_negative_labels(counting, id_emb, NAMES, ['csp_noun'], dict(POOL, corpus_dir=corpus, clean_words=True),
                                 cache=cache, progress=False)
    assert again['cache_hit'] is True and again['prompts'] == out['prompts']


def test_negrefine_fallback_defaults(tower, id_emb, tmp_path):
    """NegRefineHead without selected_file mines as NegRefine: CSP's pool with "_" read as a space, ID-name
    nouns skipped case-sensitively, the selection cleaned."""
    corpus = write(tmp_path / 'corpus', {
        'adj.all.txt': ['calm', 'red', 'blue', 'bright'],
        'noun.animal.txt': ['tiger', 'Tiger', 'lion', "o'clock", 'moss'],
        'noun.food.txt': ['ice_cream', 'bread', 'tea'],
    })
    ctx = HeadContext(id_text=id_emb, logit_scale=100.0, class_names=list(NAMES),
                      templates=resolve_templates('csp_noun'), backbone=tower, batch_size=64, ensemble='raw_mean')
    mining = dict(corpus_dir=corpus, neg_ratio=1.0, max_sim_cutoff=-1.0)
    head = NegRefineHead(mining=mining, grouping=dict(ngroup=2), matching=dict(k_neg=2)).prepare(ctx)
    nouns, adjs = load_corpus(corpus, replace_underscores=True)
    assert nouns == ['tiger', 'Tiger', 'lion', "o'clock", 'moss', 'ice cream', 'bread', 'tea']
    assert head.neg_prompts == ['tiger', 'lion', 'oclock', 'moss', 'bread', 'tea'] + conjugate(adjs)
    earlier = NegRefineHead(mining=dict(mining, exclude_id_names=True, clean_words=False), grouping=dict(ngroup=2),
                            matching=dict(k_neg=2)).prepare(ctx)
    assert earlier.neg_prompts == ['lion', "o'clock", 'moss', 'bread', 'tea'] + conjugate(['calm', 'blue', 'bright'])
