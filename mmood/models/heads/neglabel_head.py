"""NegLabel head (Jiang et al., "Negative Label Guided OOD Detection with Pretrained Vision-Language Models",
ICLR 2024, arXiv 2403.20078).

With unit image embedding h, ID prototypes e_k and mined negative prompts ẽ_j (see :mod:`mmood.text.mining`)::

    S(x) = Σ_k exp(cos(h,e_k)/τ) / ( Σ_k exp(cos(h,e_k)/τ) + Σ_j exp(cos(h,ẽ_j)/τ) )        τ = 0.01

i.e. the softmax over [ID; negatives] summed over the ID part. Grouped (``ngroup > 1``): the negatives are split
into ``ngroup`` groups by one seeded CPU permutation (NL-4) after dropping the ``M mod ngroup``
tail (NL-3), S is computed per group and averaged. Higher = more ID.

The negatives are mined once on rank 0 (or loaded from a ready file), cached, broadcast to every rank, and
written to ``<work_dir>/<score name>_negatives.txt``. Score name: ``neglabel``.

:class:`CSPHead` is this head with CSP's mining options as defaults (conjugated pool, raw-mean template
ensembles, max-cosine cut-off; :mod:`mmood.text.mining`) and the score name ``csp``: the score is NegLabel's,
unchanged (docs/csp.md).
"""
import logging
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...scores.neglabel import group_permutation, grouped_neglabel_score_
from ...text.csp import CSP_EXCLUDE_FILES
from ...text.mining import check_id_name_rule, mine_negative_labels, write_prompts
from ...text.prompts import resolve_templates
from ...utils import compute_on_main
from .base import BaseOODHead, Features, HeadContext
from ...utils.errors import ConfigError


@MODELS.register_module()
class NegLabelHead(BaseOODHead):
    """Negative-label score with NegMining and grouping.

    Args:
        corpus_dir: word corpus (default: the generated WordNet 3.0 corpus in ``txtfiles/neglabel_corpus``).
        noun_prompt: template(s) of candidate nouns (``'the nice {}'``; a list or named set is an ensemble).
        adj_prompt: template(s) of candidate adjectives (``'This is a {} photo'``).
        percentile: similarity quantile for mining (0.95).
        neg_ratio: fraction of each part of speech kept (0.15); ignored when ``num_neg`` is given.
        num_neg: explicit total number of negatives.
        exclude_id_names: remove ID class names from the candidates (off = reference, NL-6; True: nouns and
            adjectives, ignoring case; ``'exact'``: nouns and adjectives, case-sensitively; ``'exact_nouns'``: nouns
            only, case-sensitively, NegRefine's rule; :data:`mmood.text.mining.ID_NAME_RULES`).
        exclude_files: corpus files to skip.
        selected_file: load ready negative prompts (one per line) instead of mining, or ``dict(noun=..., adj=...)``
            label files encoded with the two parts' templates.
        ensemble: how a template ensemble of the candidates (and of the head's own ID ``templates``) combines
            (``'unit_mean'``, ``'raw_mean'``).
        max_sim_cutoff: rank candidates whose highest cosine to an ID prototype is above this last (CSP).
        conjugation: None, ``'random'`` or ``'all'``: adjectives joined with superclass words (CSP).
        superclasses: the superclass words (None: CSP's 14).
        conjugation_seed: seed of the superclass draws.
        quantile / priority / split / order: AdaNeg's mining rules (:func:`mmood.text.mine_negative_labels`).
        replace_underscores: read the corpus with ``_`` replaced by a space (CSP's and NegRefine's pool; off =
            NegLabel's reference).
        clean_words: NegRefine's cleaning of the mined labels (:func:`mmood.text.mining.clean_labels`; only when
            mining).
        tau: temperature on cosines (0.01 = the reference's t=1 on 100·cos).
        ngroup: number of groups (100); 1 disables grouping.
        shuffle: permute negatives before grouping (seeded CPU generator).
        seed: permutation seed.
        drop_tail_before_shuffle: drop the ``M mod ngroup`` tail before permuting (reference, NL-3).
        group_fuse_num: use only the first n groups (n, not the reference's n-1: NL-2).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 corpus_dir: str = 'txtfiles/neglabel_corpus',
                 noun_prompt: str = 'the nice {}',
                 adj_prompt: str = 'This is a {} photo',
                 percentile: float = 0.95,
                 neg_ratio: Optional[float] = 0.15,
                 num_neg: Optional[int] = None,
                 exclude_id_names: Union[bool, str] = False,
                 exclude_files: Optional[Sequence[str]] = None,
                 selected_file=None,
                 ensemble: str = 'unit_mean',
                 max_sim_cutoff: Optional[float] = None,
                 conjugation: Optional[str] = None,
                 superclasses: Optional[Sequence[str]] = None,
                 conjugation_seed: int = 0,
                 quantile: str = 'linear',
                 priority: str = 'sorted',
                 split: str = 'round_noun',
                 order: str = 'noun_first',
                 replace_underscores: bool = False,
                 clean_words: bool = False,
                 tau: float = 0.01,
                 ngroup: int = 100,
                 shuffle: bool = True,
                 seed: int = 0,
                 drop_tail_before_shuffle: bool = True,
                 group_fuse_num: Optional[int] = None,
                 templates=None,
                 prefix: str = '',
                 init_cfg=None):
        super().__init__(templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.score_names = (self.score_name, )
        if tau <= 0:
            raise ConfigError(f'tau must be positive, got {tau}')
        try:
            check_id_name_rule(exclude_id_names)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self.mining_cfg = dict(corpus_dir=corpus_dir, noun_prompt=noun_prompt, adj_prompt=adj_prompt,
                               percentile=percentile, neg_ratio=neg_ratio, num_neg=num_neg,
                               exclude_id_names=exclude_id_names, exclude_files=exclude_files,
                               selected_file=selected_file, ensemble=ensemble, max_sim_cutoff=max_sim_cutoff,
                               conjugation=conjugation, superclasses=superclasses, conjugation_seed=conjugation_seed,
                               quantile=quantile, priority=priority, split=split, order=order,
                               replace_underscores=replace_underscores, clean_words=clean_words)
        self.template_ensemble = ensemble
        self.tau = float(tau)
        self.ngroup = int(ngroup)
        self.shuffle = shuffle
        self.seed = seed
        self.drop_tail_before_shuffle = drop_tail_before_shuffle
        self.group_fuse_num = group_fuse_num
        self.register_buffer('neg_text', torch.zeros(0), persistent=False)
        # perm: indices into the mined prompts of the rows of neg_text (kept for inspection)
        self.register_buffer('perm', torch.zeros(0, dtype=torch.long), persistent=False)
        # the embeddings divided by tau (set_text_logit_weights)
        self.register_buffer('id_logit_text', torch.zeros(0), persistent=False)
        self.register_buffer('neg_logit_text', torch.zeros(0), persistent=False)
        self.neg_prompts = []
        self.neg_emb = torch.zeros(0)  # every negative, in mined order (CPU; heads built on this one read it)

    #: the name of the score (and of the negatives file)
    score_name = 'neglabel'

    def prepare(self, ctx: HeadContext) -> 'NegLabelHead':
        super().prepare(ctx)
        backbone = ctx.require_backbone('NegLabel (mining negative labels)')
        templates = ctx.templates if self.templates is None else resolve_templates(self.templates)
        id_ensemble = ctx.ensemble if self.templates is None else self.template_ensemble

        def mine():
            out = mine_negative_labels(backbone, self.id_text, ctx.class_names, templates, cache=ctx.cache,
                                       batch_size=ctx.batch_size, id_ensemble=id_ensemble, **self.mining_cfg)
            return dict(out, emb=out['emb'].cpu())

        result = compute_on_main(mine)
        self.neg_prompts = result['prompts']
        self.neg_emb = result['emb']
        num_neg = len(self.neg_prompts)
        if self.ngroup > num_neg:
            raise ConfigError(f'ngroup={self.ngroup} is larger than the number of negative labels ({num_neg}); '
                              f'lower `model.head.ngroup` or mine more negatives (neg_ratio / num_neg).')
        device = ctx.device
        perm = group_permutation(num_neg, self.ngroup, shuffle=self.shuffle, seed=self.seed,
                                 drop_tail_before_shuffle=self.drop_tail_before_shuffle)
        # Permute (and drop the tail) once: group g is then the contiguous block g of `neg_text`.
        self.perm = perm.to(device)
        self.neg_text = result['emb'][perm].to(device)
        self.set_text_logit_weights()
        source = 'cache' if result.get('cache_hit') else ('file' if self.mining_cfg['selected_file'] else 'mined')
        print_log(f'{type(self).__name__}: {num_neg} negative labels ({result["num_noun"]} nouns + {result["num_adj"]} '
                  f'adjectives; {source}), ngroup={self.ngroup}, tau={self.tau}', logger='current',
                  level=logging.INFO)
        if ctx.work_dir:
            from mmengine.dist import is_main_process
            if is_main_process():
                write_prompts(osp.join(ctx.work_dir, f'{self.prefix}{self.score_name}_negatives.txt'),
                              self.neg_prompts)
        return self

    def set_text_logit_weights(self) -> None:
        """Keep the ID and the used negative embeddings divided by ``tau`` (``h · (e / τ) = cos / τ``), so one
        matrix product gives the logits (called by :meth:`prepare`)."""
        groups = max(self.ngroup, 1)
        used = (self.group_fuse_num or groups) * (self.neg_text.shape[0] // groups)
        self.id_logit_text = self.id_text / self.tau
        self.neg_logit_text = self.neg_text[:used] / self.tau

    def forward(self, feats: Features) -> Dict[str, torch.Tensor]:
        """``{score_name: S}`` of a batch (:meth:`grouped_score`)."""
        return self.named(**{self.score_name: self.grouped_score(feats)})

    def grouped_score(self, feats: Features) -> torch.Tensor:
        """NegLabel's grouped score (B,) of a batch: per chunk of rows, the negative logits are written by one matrix
        product into a reused buffer and reduced in place (:func:`mmood.scores.grouped_neglabel_score_`) -- the same
        maths as :func:`mmood.scores.neglabel_score` on the cosines, with no other pass over the (B, M) matrix."""
        self._check_prepared()
        h = self.kind(feats, 'global', type(self).__name__)
        dtype = torch.float64 if h.dtype == torch.float64 else torch.float32
        h = h.to(dtype)
        id_logits, neg_logits = self.id_logit_text.to(dtype), self.neg_logit_text.to(dtype)
        groups = max(self.ngroup, 1)
        used_groups = self.group_fuse_num or groups
        width = neg_logits.shape[0]
        rows = max(int(self.chunk_min_rows), int(self.chunk_elements) // max(1, width), 1)
        buffer = torch.empty(min(rows, h.shape[0]), width, dtype=dtype, device=h.device)
        out = []
        for start in range(0, h.shape[0], rows):
            chunk = h[start:start + rows]
            scratch = torch.mm(chunk, neg_logits.T, out=buffer[:chunk.shape[0]])
            out.append(grouped_neglabel_score_(chunk @ id_logits.T,
                                               scratch.view(chunk.shape[0], used_groups, width // used_groups)))
        return torch.cat(out) if out else h.new_zeros(0)


@MODELS.register_module()
class CSPHead(NegLabelHead):
    """CSP (Chen et al., "Conjugated Semantic Pool Improves OOD Detection with Pre-trained Vision-Language
    Models", NeurIPS 2024, arXiv 2410.08611): NegLabel's score on a conjugated pool. Score name ``csp``.

    Only the defaults differ from :class:`NegLabelHead` (CSP's ``custom_config/clip-ViT-B16.py``): nouns under CSP's 8
    templates and conjugated labels (one random superclass per adjective, seed 0) under its 4, both as the mean of *raw*
    embeddings; the ``person`` / ``quantity`` / ``group`` noun files and ``adj.pert`` left out; ``_`` read as a space;
    0.95 quantile with the 0.95 max-cosine cut-off; 15 % of each part kept; 100 groups, tau 0.01. The classifier's ID
    prototypes should use ``templates='csp_noun'`` and ``ensemble='raw_mean'`` (``configs/csp_vitb16.py``).
    """
    score_name = 'csp'

    def __init__(self,
                 noun_prompt='csp_noun',
                 adj_prompt='csp_adj',
                 exclude_files: Optional[Sequence[str]] = CSP_EXCLUDE_FILES,
                 ensemble: str = 'raw_mean',
                 max_sim_cutoff: Optional[float] = 0.95,
                 conjugation: Optional[str] = 'random',
                 replace_underscores: bool = True,
                 **kwargs):
        super().__init__(noun_prompt=noun_prompt, adj_prompt=adj_prompt, exclude_files=exclude_files,
                         ensemble=ensemble, max_sim_cutoff=max_sim_cutoff, conjugation=conjugation,
                         replace_underscores=replace_underscores, **kwargs)
