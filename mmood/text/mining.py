"""NegLabel negative mining (NegMining, Jiang et al., ICLR 2024, arXiv 2403.20078, §3.2).

For every candidate word c with unit prompt embedding ẽ_c and the ID prototypes e_k (k = 1..K)::

    q_c = Quantile_p( ẽ_c · e_k  over k )          # p = 0.95, linear interpolation (torch.quantile default)

Candidates far from every ID class have small q_c. Nouns and adjectives are ranked **separately**, ascending q
(stable sort, NL-17), and the lowest ``floor(N_pos · neg_ratio)`` of each are kept (NL-8: a
fraction per part of speech; ``num_neg`` gives an explicit total split proportionally). The negative matrix is
``[selected nouns (ascending q); selected adjectives (ascending q)]``.

:func:`mine_negative_labels` wraps the maths with the corpus, the prompts and the shared cache: word embeddings
are keyed by (backbone, prompt, corpus) and the selection additionally by the ID class names and the mining
parameters, so a second run neither encodes the corpus nor re-mines. Its options come as one ``mining`` dict
(:data:`MINING_DEFAULTS` holds every key and its default), the dict the negative-label heads take too.

The descendants of NegLabel mine with the same code and other ``mining`` options (each an option, not a copy):

* CSP (docs/csp.md): conjugated adjectives (``conjugation='random'``), template ensembles of raw embeddings
  (``noun_prompt='csp_noun'``, ``adj_prompt='csp_adj'``, ``ensemble='raw_mean'``) and the max-cosine cut-off
  (``max_sim_cutoff=0.95``: a candidate whose highest cosine to an ID prototype exceeds it is ranked last);
* AdaNeg (docs/adaneg.md, ADA-6): ``quantile='index'`` (the sorted row at ``int(p·K)``, no interpolation),
  ``priority='noun'``, ``split='floor_adj'``, ``order='adj_first'``, ``exclude_id_names='exact'``;
* NegRefine: ready label files per part of speech (``selected_file=dict(noun=..., adj=...)``), each encoded
  with its part's template ensemble; without them, its LLM-free fallback mines CSP's pool with NegRefine's rules
  (``exclude_id_names='exact_nouns'``, ``clean_words=True``, see below).

CSP and NegRefine read the corpus with ``replace_underscores=True`` (:func:`mmood.text.load_corpus`).

ID-name rules (``exclude_id_names``; :data:`ID_NAME_RULES`), applied after the corpus's global de-duplication (a
removed word has already claimed its place, so the other part of speech does not read it either) and before CSP's
superclass draws:

* ``False``: none (NegLabel's and CSP's references);
* ``True``: nouns and adjectives equal to an ID name ignoring case (mmood's own rule; a removed adjective shifts
  every later superclass draw);
* ``'exact'``: nouns and adjectives equal to an ID name, case-sensitively (AdaNeg);
* ``'exact_nouns'``: only nouns equal to an ID name, case-sensitively; adjectives, and so every superclass draw,
  untouched -- NegRefine's ``src/create_negs.py``, ``create_initial_negative_labels``, which skips such a noun
  after marking it seen and draws a superclass for every adjective.

``clean_words=True`` applies NegRefine's cleaning (``src/neg_filter.py``, ``_clean_words``, which ``neg_filter``
runs on the mined nouns and on the mined conjugated labels before its LLM filter) to each part of the selection
(:func:`clean_labels`); a label the cleaning changed is encoded again under its part's templates, as the reference
embeds its final labels afresh.
"""
import difflib
import logging
import math
import os
import os.path as osp
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log

from ..cache import CacheStore, hash_strings
from ..utils.errors import ConfigError
from ..utils.io import atomic_open
from .class_names import resolve_path
from .corpus import load_corpus
from .csp import CSP_SUPERCLASSES, conjugate
from .embeddings import check_ensemble, encode_ensemble_cached
from .prompts import resolve_templates

SELECTION_NAMESPACE = 'neglabel_selection'
#: ``quantile`` rules: torch.quantile's linear interpolation (NegLabel, CSP) or the sorted row's element at index
#: ``int(p·K)`` (AdaNeg)
QUANTILES = ('linear', 'index')
#: ``split`` rules of an explicit ``num_neg``: nouns ``round(num_neg·N_noun/N)`` (mmood) or adjectives
#: ``floor(num_neg·N_adj/N)`` (AdaNeg), the other part the rest
SPLITS = ('round_noun', 'floor_adj')
#: ``order`` of the negative matrix
ORDERS = ('noun_first', 'adj_first')
#: ``exclude_id_names`` rules (module docstring); None is read as False
ID_NAME_RULES = (False, True, 'exact', 'exact_nouns')

#: The mining options -- the ``mining`` dict of :func:`mine_negative_labels` and of the negative-label heads -- with
#: their one default each: NegLabel's reference (XueJiang16/NegLabel, ``custom_config/clip.py``). A ``mining`` dict
#: overrides some of them (:func:`merge_options`); CSP, AdaNeg and NegRefine change some defaults in their heads.
#:
#: * ``corpus_dir``: the word corpus (:func:`~mmood.text.load_corpus`; the generated WordNet 3.0 corpus);
#: * ``noun_prompt`` / ``adj_prompt``: template(s) of the candidate nouns / adjectives (one template, a list or a
#:   named set: an ensemble, combined by ``ensemble``; a run then records labels, not prompts);
#: * ``percentile``: the similarity quantile (0.95); ``quantile``: ``'linear'`` or ``'index'``
#:   (:func:`quantile_similarity`); ``max_sim_cutoff``: CSP's max-cosine cut-off (None: off);
#: * ``neg_ratio``: the fraction kept per part of speech (0.15); ``num_neg``: an explicit total instead, split by
#:   ``split`` (:func:`split_counts`); ``order``: ``'noun_first'`` or ``'adj_first'`` (the negative matrix);
#: * ``exclude_id_names``: the ID-name rule (:data:`ID_NAME_RULES`, module docstring; off as the reference, NL-6);
#:   ``exclude_files``: corpus files to skip; ``priority``: the owner of a word in both parts of speech;
#:   ``replace_underscores``: read ``_`` as a space (:func:`~mmood.text.load_corpus`);
#: * ``conjugation`` (None, ``'random'``, ``'all'``), ``superclasses`` (None: CSP's 14), ``conjugation_seed``: CSP's
#:   conjugated adjectives (:func:`~mmood.text.csp.conjugate`);
#: * ``ensemble``: how a template ensemble combines (``'unit_mean'``, ``'raw_mean'``;
#:   :func:`~mmood.text.embeddings.encode_ensemble_cached`);
#: * ``selected_file``: skip mining: a file of ready prompts, or ``dict(noun=..., adj=...)`` label files encoded with
#:   their part's templates (:func:`read_selected_file`);
#: * ``clean_words``: NegRefine's cleaning of the mined labels (:func:`clean_labels`; only when mining).
MINING_DEFAULTS: Mapping[str, Any] = MappingProxyType(dict(
    corpus_dir='txtfiles/neglabel_corpus',
    noun_prompt='the nice {}',
    adj_prompt='This is a {} photo',
    percentile=0.95,
    neg_ratio=0.15,
    num_neg=None,
    exclude_id_names=False,
    exclude_files=None,
    selected_file=None,
    ensemble='unit_mean',
    max_sim_cutoff=None,
    conjugation=None,
    superclasses=None,
    conjugation_seed=0,
    quantile='linear',
    priority='sorted',
    split='round_noun',
    order='noun_first',
    replace_underscores=False,
    clean_words=False,
))


def merge_options(group: str, defaults: Mapping[str, Any], options: Optional[Mapping[str, Any]] = None,
                  owner: str = '') -> Dict[str, Any]:
    """``defaults`` overridden by ``options`` (an option dict such as a head's ``mining``), as a new flat dict.

    Args:
        group: the name of the option dict (``'mining'``), for the error message.
        defaults: every valid option with its default.
        options: the options given (None: all defaults).
        owner: who takes the dict (``'NegLabelHead'``), for the error message.

    Raises:
        ConfigError: ``options`` is not a dict, or names an option ``defaults`` lacks (the message lists the valid
            ones and the closest match).
    """
    where = f'{owner} option `{group}`' if owner else f'option `{group}`'
    if options is None:
        return dict(defaults)
    if not isinstance(options, Mapping):
        raise ConfigError(f'{where} must be a dict of options, got {type(options).__name__}: {options!r}')
    unknown = [k for k in options if k not in defaults]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), list(defaults), n=1)
            hints.append(f'"{key}" (did you mean "{close[0]}"?)' if close else f'"{key}"')
        raise ConfigError(f'Unknown key(s) {", ".join(hints)} in {where}; valid keys: {", ".join(defaults)}')
    return dict(defaults, **options)


def row_quantile(x: torch.Tensor, q: float) -> torch.Tensor:
    """``torch.quantile(x, q, dim=1)`` (linear interpolation) via a partial sort, correctly rounded.

    Only the shorter tail up to the two order statistics around position ``q·(K−1)`` is sorted (``topk``),
    which is ~5x faster than ``torch.quantile``'s full sort for q = 0.95 and K = 1000. The position and the
    interpolation are computed in float64 and rounded once, so the result is within half an ulp of the exact
    quantile of the given values; ``torch.quantile`` rounds the position in the input's dtype on some versions
    (2.13: ``0.333 * 100`` in float32) and not on others (2.14), which moves float32 results by a few ulp.
    """
    k = x.shape[1]
    pos = float(q) * (k - 1)
    lo = min(int(math.floor(pos)), k - 1)
    hi = min(lo + 1, k - 1)
    frac = pos - lo
    if lo >= k // 2:  # upper tail: the k - lo largest values, descending
        top = torch.topk(x, k - lo, dim=1, largest=True, sorted=True).values
        v_lo, v_hi = top[:, k - 1 - lo], top[:, k - 1 - hi]
    else:  # lower tail: the hi + 1 smallest values, ascending
        bottom = torch.topk(x, hi + 1, dim=1, largest=False, sorted=True).values
        v_lo, v_hi = bottom[:, lo], bottom[:, hi]
    wide = torch.float64 if x.is_floating_point() else x.dtype
    return (v_lo.to(wide) + frac * (v_hi.to(wide) - v_lo.to(wide))).to(x.dtype)


def quantile_similarity(cand_emb: torch.Tensor, id_emb: torch.Tensor, percentile: float = 0.95,
                        chunk_size: int = 1000, max_sim_cutoff: Optional[float] = None,
                        quantile: str = 'linear') -> torch.Tensor:
    """Per-candidate ``percentile`` quantile of its cosine similarity to the ID prototypes.

    Args:
        cand_emb: (N, D) unit candidate embeddings.
        id_emb: (K, D) unit ID embeddings.
        percentile: quantile in [0, 1] (1 = max similarity).
        chunk_size: candidate rows per matmul.
        max_sim_cutoff: CSP's cut-off (CSP-5): a candidate whose highest cosine to an ID prototype
            is above it gets ``q = 1`` (ranked last: a near-duplicate of an ID class). None: off.
        quantile: ``'linear'`` (torch.quantile's interpolation) or ``'index'`` (the ascending-sorted row's element
            at index ``int(percentile·K)``, AdaNeg's rule).

    Returns:
        (N,) float32 quantiles (float64 if inputs are float64).
    """
    if not 0.0 <= percentile <= 1.0:
        raise ValueError(f'percentile must lie in [0, 1], got {percentile}')
    if quantile not in QUANTILES:
        raise ValueError(f'quantile must be one of {QUANTILES}, got {quantile!r}')
    dtype = torch.float64 if cand_emb.dtype == torch.float64 else torch.float32
    id_emb = id_emb.to(dtype)
    index = min(int(percentile * id_emb.shape[0]), id_emb.shape[0] - 1)
    out = []
    for s in range(0, cand_emb.shape[0], chunk_size):
        sim = cand_emb[s:s + chunk_size].to(dtype) @ id_emb.T
        q = row_quantile(sim, percentile) if quantile == 'linear' else torch.kthvalue(sim, index + 1, dim=1).values
        if max_sim_cutoff is not None:
            q = torch.where(sim.amax(dim=1) > max_sim_cutoff, torch.ones_like(q), q)
        out.append(q)
    return torch.cat(out) if out else torch.zeros(0, dtype=dtype)


def select_lowest(q: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the ``count`` smallest values, ascending, ties in original order (stable)."""
    order = torch.sort(q, stable=True).indices
    return order[:count]


def split_counts(num_noun: int, num_adj: int, neg_ratio: Optional[float] = 0.15,
                 num_neg: Optional[int] = None, split: str = 'round_noun') -> Tuple[int, int]:
    """How many nouns and adjectives to keep.

    ``neg_ratio``: ``floor(N·ratio)`` per part of speech (the reference). ``num_neg`` (overrides the ratio): a
    total split in proportion to the candidate counts (``split``: :data:`SPLITS`).
    """
    if num_neg is not None:
        total = num_noun + num_adj
        if not 0 < num_neg <= total:
            raise ValueError(f'num_neg={num_neg} must lie in [1, {total}] (number of candidate words)')
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if split == 'floor_adj':
            k_adj = int(num_neg * num_adj / total)
            return num_neg - k_adj, k_adj
        k_noun = int(round(num_neg * num_noun / total))
        return k_noun, num_neg - k_noun
    if neg_ratio is None or not 0.0 < neg_ratio <= 1.0:
        raise ValueError(f'neg_ratio must lie in (0, 1], got {neg_ratio}')
    return math.floor(num_noun * neg_ratio + 1e-9), math.floor(num_adj * neg_ratio + 1e-9)


def mine_indices(noun_emb: torch.Tensor, adj_emb: torch.Tensor, id_emb: torch.Tensor, percentile: float = 0.95,
                 neg_ratio: Optional[float] = 0.15, num_neg: Optional[int] = None,
                 chunk_size: int = 1000, max_sim_cutoff: Optional[float] = None, quantile: str = 'linear',
                 split: str = 'round_noun') -> Tuple[torch.Tensor, torch.Tensor]:
    """Select negative nouns and adjectives (indices into each list, ascending quantile; options as
    :func:`quantile_similarity` and :func:`split_counts`)."""
    k_noun, k_adj = split_counts(len(noun_emb), len(adj_emb), neg_ratio, num_neg, split)
    q_noun = quantile_similarity(noun_emb, id_emb, percentile, chunk_size, max_sim_cutoff, quantile)
    q_adj = quantile_similarity(adj_emb, id_emb, percentile, chunk_size, max_sim_cutoff, quantile)
    return select_lowest(q_noun, k_noun), select_lowest(q_adj, k_adj)


def read_selected_file(path: str) -> List[str]:
    """Read a ready selected-negatives file: one full prompt (or label) per line (e.g. NegLabel's 10,499-line
    file)."""
    full = resolve_path(path)
    if not osp.isfile(full):
        raise FileNotFoundError(f'Selected-negatives file not found: {path} (option `selected_file`)')
    with open(full, encoding='utf-8') as f:
        lines = [line.rstrip('\n') for line in f if line.strip()]
    if not lines:
        raise ValueError(f'Selected-negatives file {path} is empty')
    return lines


def _labels(words: Sequence[str], templates: Sequence[str]) -> List[str]:
    """What a run records for each negative: the prompt of a single template, the label under an ensemble."""
    return [templates[0].format(w) for w in words] if len(templates) == 1 else list(words)


def check_id_name_rule(rule) -> Union[bool, str]:
    """``rule`` as one of :data:`ID_NAME_RULES` (None: False), else a ``ValueError`` naming them."""
    if rule is None:
        return False
    if isinstance(rule, bool) or (isinstance(rule, str) and rule in ID_NAME_RULES):
        return rule
    raise ValueError(f'exclude_id_names must be one of {ID_NAME_RULES}, got {rule!r}')


def _exclude_names(words: List[str], class_names: Sequence[str], rule, part: str) -> List[str]:
    """``words`` of part of speech ``part`` without the ID names that ``rule`` removes (module docstring)."""
    if not rule or (rule == 'exact_nouns' and part != 'noun'):
        return words
    if rule in ('exact', 'exact_nouns'):
        names = set(class_names)
        return [w for w in words if w not in names]
    names = {c.lower() for c in class_names}
    return [w for w in words if w.lower() not in names]


#: what NegRefine's cleaning keeps besides letters (``str.isalpha``, so accented letters too)
_CLEAN_KEEP = frozenset('_- ')


def clean_labels(words: Sequence[str], return_index: bool = False):
    """NegRefine's cleaning of mined labels (``src/neg_filter.py``, ``_clean_words``).

    Every character that is neither a letter (``str.isalpha``) nor ``_``, ``-`` or a space is deleted (nothing is
    stripped afterwards: ``"St. Elmo's fire"`` becomes ``"St Elmos fire"``), a result of fewer than 3 characters
    is dropped (``"3-D"`` -> ``"-D"``), and repeated results are dropped. The reference returns ``list(set(...))``,
    an order that changes with the interpreter's string hashing; here the first occurrence is kept, so the labels
    stay in their mined order.

    Args:
        words: the labels (mined nouns, or conjugated labels such as ``"white creature"``).
        return_index: also return, for every kept label, the index in ``words`` of the label it came from.

    Returns:
        The cleaned labels, or ``(labels, indices)`` with ``return_index``.
    """
    out: Dict[str, int] = {}
    for i, word in enumerate(words):
        cleaned = ''.join(c for c in word if c.isalpha() or c in _CLEAN_KEEP)
        if len(cleaned) > 2 and cleaned not in out:
            out[cleaned] = i
    labels = list(out)
    return (labels, list(out.values())) if return_index else labels


def mine_negative_labels(backbone, id_emb: torch.Tensor, class_names: Sequence[str], id_templates: Sequence[str],
                         mining: Optional[Mapping[str, Any]] = None, cache: Optional[CacheStore] = None,
                         batch_size: int = 1000, progress: bool = True,
                         id_ensemble: str = 'unit_mean') -> Dict[str, object]:
    """Negative prompts and their embeddings, mined (or loaded) once and cached.

    Args:
        backbone: the open_clip wrapper used to encode the corpus.
        id_emb: (K, D) unit ID prototypes.
        class_names: ID class names (part of the selection key; used by ``exclude_id_names``).
        id_templates: ID prompt templates (part of the selection key).
        mining: the mining options (:data:`MINING_DEFAULTS`: the corpus, the prompts, the quantile, how many are
            kept, the ID-name rule, CSP's conjugation and cut-off, AdaNeg's rules, NegRefine's ready files and
            cleaning); what it does not name keeps its default, an unknown key is a ``ConfigError``.
        cache: the shared cache (None: no caching).
        batch_size: texts per forward pass.
        progress: progress bar while encoding.
        id_ensemble: the ensemble rule of ``id_emb`` (part of the selection key).

    Returns:
        dict with ``prompts`` (list of M strings), ``emb`` (M, D float32 CPU tensor), ``num_noun``, ``num_adj``
        and ``cache_hit`` (whether the selection came from the cache).
    """
    opts = merge_options('mining', MINING_DEFAULTS, mining, 'mine_negative_labels')
    corpus_dir, noun_prompt, adj_prompt = opts['corpus_dir'], opts['noun_prompt'], opts['adj_prompt']
    percentile, neg_ratio, num_neg = opts['percentile'], opts['neg_ratio'], opts['num_neg']
    exclude_files, selected_file, ensemble = opts['exclude_files'], opts['selected_file'], opts['ensemble']
    max_sim_cutoff, quantile, split, order = opts['max_sim_cutoff'], opts['quantile'], opts['split'], opts['order']
    conjugation, superclasses, conjugation_seed = opts['conjugation'], opts['superclasses'], opts['conjugation_seed']
    priority, replace_underscores = opts['priority'], opts['replace_underscores']
    noun_templates, adj_templates = resolve_templates(noun_prompt), resolve_templates(adj_prompt)
    check_ensemble(ensemble)
    exclude_id_names = check_id_name_rule(opts['exclude_id_names'])
    do_clean = bool(opts['clean_words'])
    if order not in ORDERS:
        raise ValueError(f'order must be one of {ORDERS}, got {order!r}')

    def encode(words, templates, desc):
        return encode_ensemble_cached(backbone, words, templates, ensemble, cache, batch_size, progress, desc)

    def assemble(noun_labels, noun_emb, adj_labels, adj_emb):
        parts = [(noun_labels, noun_emb), (adj_labels, adj_emb)]
        if order == 'adj_first':
            parts.reverse()
        return parts[0][0] + parts[1][0], torch.cat([parts[0][1], parts[1][1]])

    if isinstance(selected_file, str):
        prompts = read_selected_file(selected_file)
        emb = encode_ensemble_cached(backbone, prompts, '{}', 'unit_mean', cache, batch_size, progress,
                                     desc='encoding selected negatives')
        return dict(prompts=prompts, emb=emb, num_noun=len(prompts), num_adj=0, cache_hit=None)
    if selected_file is not None:
        unknown = sorted(set(selected_file) - {'noun', 'adj'})
        if unknown:
            raise ValueError(f'selected_file as a dict takes the keys "noun" and "adj", got {unknown}')
        nouns = read_selected_file(selected_file['noun']) if selected_file.get('noun') else []
        adjs = read_selected_file(selected_file['adj']) if selected_file.get('adj') else []
        prompts, emb = assemble(_labels(nouns, noun_templates), encode(nouns, noun_templates, 'encoding nouns'),
                                _labels(adjs, adj_templates), encode(adjs, adj_templates, 'encoding adjectives'))
        return dict(prompts=prompts, emb=emb, num_noun=len(nouns), num_adj=len(adjs), cache_hit=None)

    missing = sorted(set(exclude_files or ()) - set(os.listdir(resolve_path(corpus_dir)))) \
        if osp.isdir(resolve_path(corpus_dir)) else []
    if missing:
        print_log(f'exclude_files {missing} are not in the corpus {corpus_dir}: nothing to exclude for them',
                  logger='current', level=logging.WARNING)
    nouns, adjs = load_corpus(corpus_dir, exclude_files, priority, replace_underscores)
    nouns = _exclude_names(nouns, class_names, exclude_id_names, 'noun')
    adjs = _exclude_names(adjs, class_names, exclude_id_names, 'adj')
    if conjugation is not None:
        adjs = conjugate(adjs, superclasses or CSP_SUPERCLASSES, conjugation_seed, conjugation)
    # The selection key, from the merged options exactly as when they were separate arguments (a cached selection
    # stays valid). The candidates themselves: the key follows replace_underscores and the ID-name rule through them
    corpus_digest = hash_strings(['noun'] + nouns + ['adj'] + adjs)
    parts = dict(kind='neglabel_selection', backbone=backbone.text_identity, corpus=corpus_digest,
                 noun_prompt=noun_prompt, adj_prompt=adj_prompt, id_names=hash_strings(class_names),
                 id_templates=list(id_templates), percentile=percentile, neg_ratio=neg_ratio, num_neg=num_neg,
                 exclude_id_names=exclude_id_names)
    options = dict(ensemble=(ensemble, 'unit_mean'), max_sim_cutoff=(max_sim_cutoff, None),
                   quantile=(quantile, 'linear'), split=(split, 'round_noun'), order=(order, 'noun_first'),
                   id_ensemble=(id_ensemble, 'unit_mean'), clean_words=(do_clean, False))
    parts.update({k: v for k, (v, default) in options.items() if v != default})  # NegLabel keeps its old keys

    def cleaned(words, emb, templates, desc):
        """NegRefine's cleaning of one part; the labels it changed are encoded again."""
        if not do_clean:
            return words, emb
        kept, rows = clean_labels(words, return_index=True)
        emb = emb[torch.tensor(rows, dtype=torch.long)].clone()
        changed = [j for j, (w, i) in enumerate(zip(kept, rows)) if w != words[i]]
        if changed:
            emb[changed] = encode([kept[j] for j in changed], templates, desc).to(emb.dtype)
        return kept, emb

    def compute():
        noun_emb = encode(nouns, noun_templates, 'encoding corpus nouns')
        adj_emb = encode(adjs, adj_templates, 'encoding corpus adjectives')
        noun_idx, adj_idx = mine_indices(noun_emb, adj_emb, id_emb.float().cpu(), percentile, neg_ratio, num_neg,
                                         batch_size, max_sim_cutoff, quantile, split)
        noun_words, noun_sel = cleaned([nouns[i] for i in noun_idx.tolist()], noun_emb[noun_idx], noun_templates,
                                       'encoding cleaned nouns')
        adj_words, adj_sel = cleaned([adjs[i] for i in adj_idx.tolist()], adj_emb[adj_idx], adj_templates,
                                     'encoding cleaned adjectives')
        prompts, emb = assemble(_labels(noun_words, noun_templates), noun_sel, _labels(adj_words, adj_templates),
                                adj_sel)
        return ({'emb': emb.numpy().astype(np.float32)},
                dict(prompts=prompts, num_noun=len(noun_words), num_adj=len(adj_words)))

    if cache is None:
        arrays, meta = compute()
        hit = False
    else:
        arrays, meta, hit = cache.get_or_compute(SELECTION_NAMESPACE, parts, compute)
    return dict(prompts=list(meta['prompts']), emb=torch.from_numpy(np.array(arrays['emb'])),
                num_noun=int(meta['num_noun']), num_adj=int(meta['num_adj']), cache_hit=hit)


def negative_source_problems(mining_cfg: Dict[str, object]) -> Tuple[List[str], List[str]]:
    """Check the text inputs of a negative-label head's mining options (its ``mining_cfg``: the merged ``mining``
    dict, :data:`MINING_DEFAULTS`) without encoding anything
    (``tools/verify_data.py``): the ready label files (entries and SHA-256 each), or the corpus folder (words per
    part of speech, excluded files it lacks).

    Returns:
        ``(lines, problems)``: what was found, and what a run would stop on.
    """
    from ..cache import file_sha256
    lines: List[str] = []
    problems: List[str] = []
    selected = mining_cfg.get('selected_file')
    if selected:
        files = selected.items() if isinstance(selected, dict) else [('prompts', selected)]
        for part, path in files:
            full = resolve_path(str(path))
            if not osp.isfile(full):
                problems.append(f'selected {part} file not found: {path} (option `selected_file`)')
                continue
            lines.append(f'selected {part}: {path}: {len(read_selected_file(str(path)))} entries, sha256 '
                         f'{file_sha256(full)}')
        return lines, problems
    corpus = str(mining_cfg.get('corpus_dir') or '')
    if not osp.isdir(resolve_path(corpus)):
        return lines, [f'word corpus folder not found: {corpus} (option `corpus_dir`; '
                       'tools/dataset_converters/build_word_corpus.py writes it)']
    nouns, adjs = load_corpus(corpus, mining_cfg.get('exclude_files'), str(mining_cfg.get('priority') or 'sorted'),
                              bool(mining_cfg.get('replace_underscores')))
    lines.append(f'corpus {corpus}: {len(nouns)} nouns, {len(adjs)} adjectives (after exclusions)')
    missing = sorted(set(mining_cfg.get('exclude_files') or ()) - set(os.listdir(resolve_path(corpus))))
    if missing:
        lines.append(f'excluded files not in the corpus (nothing to exclude): {missing}')
    return lines, problems


def write_prompts(path: str, prompts: Sequence[str]) -> None:
    """Write the selected negatives, one per line (readable record of a run)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with atomic_open(path, 'w', encoding='utf-8') as f:
        f.writelines(p + '\n' for p in prompts)
