"""NegLabel head (Jiang et al., "Negative Label Guided OOD Detection with Pretrained Vision-Language Models",
ICLR 2024, arXiv 2403.20078).

With unit image embedding h, ID prototypes e_k and mined negative prompts ẽ_j (see :mod:`mmood.text.mining`)::

    S(x) = Σ_k exp(cos(h,e_k)/τ) / ( Σ_k exp(cos(h,e_k)/τ) + Σ_j exp(cos(h,ẽ_j)/τ) )        τ = 0.01

i.e. the softmax over [ID; negatives] summed over the ID part. Grouped (option dict ``grouping``, ``ngroup > 1``):
the negatives are split into ``ngroup`` groups by one seeded CPU permutation (NL-4) after dropping the ``M mod ngroup``
tail (NL-3), S is computed per group and averaged. Higher = more ID.

The negatives are mined once on rank 0 (or loaded from a ready file), cached, broadcast to every rank, and
written to ``<work_dir>/<score name>_negatives.txt``. Score name: ``neglabel``.

:class:`CSPHead` is this head with CSP's mining options as defaults (conjugated pool, raw-mean template
ensembles, max-cosine cut-off; :mod:`mmood.text.mining`) and the score name ``csp``: the score is NegLabel's,
unchanged (docs/csp.md).
"""
import functools
import logging
import os.path as osp
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional

import torch
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...utils.options import Range
from ...scores.neglabel import group_permutation, grouped_neglabel_score_
from ...text.csp import CSP_EXCLUDE_FILES
from ...text.mining import (MINING_DEFAULTS, check_id_name_rule, merge_options, mine_negative_labels,
                            negative_source_problems, write_prompts)
from ...text.prompts import resolve_templates
from ...utils import compute_on_main
from .base import BaseOODHead, Features, HeadContext
from ...utils.errors import ConfigError


#: The ``grouping`` options of the negative-label heads (NegLabel's grouping, paper §3.3; the reference's
#: ``custom_config/clip.py``) and their defaults:
#:
#: * ``ngroup``: number of groups (100); 1 disables grouping;
#: * ``shuffle``: permute the negatives before grouping (one seeded CPU generator, NL-4);
#: * ``seed``: the permutation's seed;
#: * ``drop_tail_before_shuffle``: drop the ``M mod ngroup`` tail before permuting (the reference, NL-3);
#: * ``group_fuse_num``: use only the first n groups (n, not the reference's n - 1: NL-2; None: all).
GROUPING_DEFAULTS: Mapping[str, Any] = MappingProxyType(dict(
    ngroup=100,
    shuffle=True,
    seed=0,
    drop_tail_before_shuffle=True,
    group_fuse_num=None,
))


@MODELS.register_module()
class NegLabelHead(BaseOODHead):
    """Negative-label score with NegMining and grouping.

    The options come in dicts (OpenMMLab style): a config names only what differs from the head's defaults,
    :attr:`option_groups` (``mining=dict(neg_ratio=0.1)`` keeps every other mining option's default).

    Args:
        mining: the negative labels: corpus, prompts, quantile, how many are kept, ID-name rule, ready files...
            (:data:`mmood.text.mining.MINING_DEFAULTS`; NegLabel's reference by default). Its ``ensemble`` also
            combines the head's own ID ``templates``.
        grouping: how the negatives are grouped (:data:`GROUPING_DEFAULTS`: ``ngroup``, ``shuffle``, ``seed``,
            ``drop_tail_before_shuffle``, ``group_fuse_num``).
        tau: temperature on cosines (0.01 = the reference's t=1 on 100·cos).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.

    Raises:
        ConfigError: an unknown key in an option dict (the message lists the valid keys), a non-positive ``tau`` or
            an unknown ``exclude_id_names`` rule.
    """

    #: the option dicts of the head and each one's defaults, ``{dict name: {option: default}}``; a subclass
    #: changes defaults here (never in a config)
    option_groups: Mapping[str, Mapping[str, Any]] = MappingProxyType(dict(mining=MINING_DEFAULTS,
                                                                           grouping=GROUPING_DEFAULTS))

    #: declared ranges (checked when the head is built; dotted names are keys of the option dicts)
    option_ranges: Mapping[str, Range] = MappingProxyType({
        'tau': Range(gt=0, why='the softmax temperature divides the cosines'),
        'mining.percentile': Range(gt=0, le=1, why='a quantile of the similarity row'),
        'mining.neg_ratio': Range(gt=0, le=1, none=True, why='a fraction of the candidate words'),
        'mining.num_neg': Range(ge=1, integer=True, none=True, why='a number of negative labels'),
        'mining.max_sim_cutoff': Range(ge=-1, le=1, none=True, why='a cosine similarity'),
        'grouping.ngroup': Range(ge=1, integer=True, why='a number of groups'),
        'grouping.group_fuse_num': Range(ge=1, integer=True, none=True, why='a number of groups'),
    })

    def __init__(self,
                 mining: Optional[Mapping[str, Any]] = None,
                 grouping: Optional[Mapping[str, Any]] = None,
                 tau: float = 0.01,
                 templates=None,
                 prefix: str = '',
                 init_cfg=None):
        super().__init__(templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.score_names = (self.score_name, )
        #: the mining options, merged with their defaults (flat: :func:`mmood.text.mine_negative_labels`' dict)
        self.mining_cfg = self.options('mining', mining)
        try:
            check_id_name_rule(self.mining_cfg['exclude_id_names'])
        except ValueError as err:
            raise ConfigError(str(err)) from None
        group = self.options('grouping', grouping)
        self.template_ensemble = self.mining_cfg['ensemble']  # also combines the head's own ID templates
        self.tau = float(tau)
        self.ngroup = int(group['ngroup'])
        self.shuffle = group['shuffle']
        self.seed = group['seed']
        self.drop_tail_before_shuffle = group['drop_tail_before_shuffle']
        self.group_fuse_num = group['group_fuse_num']
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

    def options(self, group: str, given: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The option dict ``group`` as given, merged with this head's defaults (:attr:`option_groups`)."""
        return merge_options(group, self.option_groups[group], given, type(self).__name__)

    def text_inputs(self) -> list:
        """The negative labels' source: the word corpus folder, or the ready label files (``mining.selected_file``),
        checked by :func:`~mmood.text.mining.negative_source_problems`."""
        return [('text inputs', functools.partial(negative_source_problems, self.mining_cfg))]

    def prepare(self, ctx: HeadContext) -> 'NegLabelHead':
        super().prepare(ctx)
        backbone = ctx.require_backbone('NegLabel (mining negative labels)')
        templates = ctx.templates if self.templates is None else resolve_templates(self.templates)
        id_ensemble = ctx.ensemble if self.templates is None else self.template_ensemble

        def mine():
            out = mine_negative_labels(backbone, self.id_text, ctx.class_names, templates, self.mining_cfg,
                                       cache=ctx.cache, batch_size=ctx.batch_size, id_ensemble=id_ensemble)
            return dict(out, emb=out['emb'].cpu())

        result = compute_on_main(mine)
        self.neg_prompts = result['prompts']
        self.neg_emb = result['emb']
        num_neg = len(self.neg_prompts)
        if self.ngroup > num_neg:
            raise ConfigError(f'ngroup={self.ngroup} is larger than the number of negative labels ({num_neg}); '
                              f'lower `grouping.ngroup` or mine more negatives (`mining.neg_ratio` / `num_neg`).')
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


#: CSP's mining options where they differ from NegLabel's (CSP's ``custom_config/clip-ViT-B16.py``): nouns under
#: CSP's 8 templates and conjugated labels (one random superclass per adjective, seed 0) under its 4, both as the mean
#: of *raw* embeddings; the ``person`` / ``quantity`` / ``group`` noun files and ``adj.pert`` left out; ``_`` read as
#: a space; the 0.95 max-cosine cut-off (docs/csp.md)
CSP_MINING = MappingProxyType(dict(
    noun_prompt='csp_noun',
    adj_prompt='csp_adj',
    exclude_files=CSP_EXCLUDE_FILES,
    ensemble='raw_mean',
    max_sim_cutoff=0.95,
    conjugation='random',
    replace_underscores=True,
))


@MODELS.register_module()
class CSPHead(NegLabelHead):
    """CSP (Chen et al., "Conjugated Semantic Pool Improves OOD Detection with Pre-trained Vision-Language
    Models", NeurIPS 2024, arXiv 2410.08611): NegLabel's score on a conjugated pool. Score name ``csp``.

    Only the ``mining`` defaults differ from :class:`NegLabelHead` (:data:`CSP_MINING`: CSP's templates, raw-mean
    ensembles, exclusions, conjugation and cut-off); 0.95 quantile, 15 % of each part kept, 100 groups and tau 0.01
    as NegLabel. The classifier's ID prototypes should use ``templates='csp_noun'`` and ``ensemble='raw_mean'``
    (``configs/csp/csp_vitb16.py``). Options: :class:`NegLabelHead`'s.
    """
    score_name = 'csp'
    option_groups = MappingProxyType(dict(NegLabelHead.option_groups,
                                          mining=MappingProxyType(dict(MINING_DEFAULTS, **CSP_MINING))))
