"""AdaNeg head (Zhang et al., "AdaNeg: Adaptive Negative Proxy Guided OOD Detection with Vision-Language Models",
NeurIPS 2024, arXiv 2410.20149): NegLabel plus a test-time memory of confidently classified test images.

Per batch of a test stream (the reference's ``TTAPromptPostprocessor_noadagap``; the maths in
:mod:`mmood.scores.adaneg`)::

    S_nl  = NegLabel's grouped score on the labels T = [ID; negatives]        (5 groups, logits cos / τ = 100 cos)
    write: S_nl > 0.75 -> the image joins its top ID label's memory, S_nl < 0.25 -> its top negative's
    S_ada = the same grouped score on proxies: task P_c = unit(Σ slots of c), or sample-adaptive
            P_c(x) = unit(Σ_l exp(-β(1 - m_cl·x)) m_cl)
    S     = S_ada + λ · S_nl                                                         (λ = 0.1); higher = more ID

The score of an image depends on the images streamed before it, so this is a **set-level** head
(:attr:`BaseOODHead.set_level`): it scores each (ID set, OOD set) pair once, after the test loop, on the gathered
(or cached) features -- never per process (ADA-9). The stream is defined here, not by a data loader: for each pair
and each seed ``s`` of ``stream.seeds``, the pair's samples (ID then OOD, dataset order) permuted by
``torch.randperm`` with a CPU generator seeded ``s``, cut into batches of ``stream.batch_size``, with a fresh memory
(ADA-4: the reference's shuffle is unseeded). The result is therefore the same under any number of processes and
when re-scored from the feature cache.

Score names: ``adaneg`` (the first of ``proxies``, seed ``stream.seeds[0]``; the primary), ``adaneg_seed<s>`` for
the other seeds, and ``adaneg_<proxy>`` / ``adaneg_<proxy>_seed<s>`` for the other proxies; the repeated runs over
seeds are :attr:`replicates`, so the metric adds their mean ± std.

Negatives: AdaNeg's own mining rules as the defaults of the ``mining`` options (:data:`ADANEG_MINING`, ADA-6):
10,000 negatives, ``'The nice {}.'`` / ``'This is a {} photo.'``, the sorted row's element at ``int(0.95·K)``, nouns
own shared words, ``floor`` adjectives, adjectives first, exact ID names removed; mined with the evaluated backbone.
5 groups (``grouping``), tau 0.01.

Options (the reference's ``scripts/ood/adaneg/imagenet.sh`` by default): ``proxies``, ``lam`` and the dicts
``stream`` (:data:`STREAM_DEFAULTS`), ``memory`` (:data:`MEMORY_DEFAULTS`), ``mining`` and ``grouping``.
"""
import logging
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...utils.options import Range
from ...scores.adaneg import AdaNegMemory, adaneg_stream_scores
from ...text.mining import MINING_DEFAULTS
from ...utils.errors import ConfigError
from .base import Features, HeadContext
from .neglabel_head import GROUPING_DEFAULTS, NegLabelHead
from .set_level import seeded_order

PROXIES = ('task', 'sample')

#: AdaNeg's mining options where they differ from NegLabel's (ADA-6): 10,000 negatives, ``'The nice {}.'`` /
#: ``'This is a {} photo.'``, the sorted row's element at ``int(0.95·K)``, nouns own shared words, ``floor``
#: adjectives, adjectives first, exact ID names removed
ADANEG_MINING = MappingProxyType(dict(
    noun_prompt='adaneg',
    adj_prompt='adaneg_adj',
    neg_ratio=None,
    num_neg=10000,
    exclude_id_names='exact',
    quantile='index',
    priority='noun',
    split='floor_adj',
    order='adj_first',
))
#: The ``stream`` options (the test stream mmood defines, module docstring) and their defaults:
#:
#: * ``seeds``: seeds of the shuffled streams, one score per seed (mean ± std in the metrics);
#: * ``batch_size``: images per stream batch (256, the reference's loader).
STREAM_DEFAULTS: Mapping[str, Any] = MappingProxyType(dict(seeds=(0, 1, 2), batch_size=256))
#: The ``memory`` options (the test-time memory and its proxies; the reference's ``scripts/ood/adaneg/imagenet.sh``)
#: and their defaults:
#:
#: * ``gamma``: write threshold γ (0.5);
#: * ``gap``: write gap g (0.5): ID writes above γ + g(1 - γ), negative writes below γ - gγ;
#: * ``memleng``: slots per label L (10);
#: * ``beta``: sharpness of the sample-adaptive proxies' weights (5.0: the reference's ``int(5.5)``, ADA-3);
#: * ``full_capacity``: store L images per label (the reference stores L - 1, ADA-2);
#: * ``replacement``: ``'entropy'`` (a lower-entropy image replaces the highest-entropy slot of a full label) or
#:   ``'none'`` (keep the first writes; close to the reference's fp16 behaviour, ADA-1);
#: * ``score_before_update``: score a batch before writing it (the reference writes first, ADA-5).
MEMORY_DEFAULTS: Mapping[str, Any] = MappingProxyType(dict(
    gamma=0.5,
    gap=0.5,
    memleng=10,
    beta=5.0,
    full_capacity=False,
    replacement='entropy',
    score_before_update=False,
))


@MODELS.register_module()
class AdaNegHead(NegLabelHead):
    """AdaNeg's test-time adaptive negative proxies (module docstring).

    Args:
        proxies: the proxy kinds to score, each a named score (``'task'``, ``'sample'``); the first is primary.
        lam: weight λ of the static NegLabel score (0.1).
        stream: the test streams (:data:`STREAM_DEFAULTS`: ``seeds``, ``batch_size``).
        memory: the memory and its proxies (:data:`MEMORY_DEFAULTS`: ``gamma``, ``gap``, ``memleng``, ``beta``,
            ``full_capacity``, ``replacement``, ``score_before_update``).
        **kwargs: :class:`NegLabelHead` options: ``mining`` (defaults: NegLabel's with :data:`ADANEG_MINING`),
            ``grouping`` (defaults: NegLabel's with ``ngroup=5``), ``tau``, ``templates``, ``prefix``.
    """
    set_level = True
    score_name = 'adaneg'
    option_groups = MappingProxyType(dict(NegLabelHead.option_groups,
                                          mining=MappingProxyType(dict(MINING_DEFAULTS, **ADANEG_MINING)),
                                          grouping=MappingProxyType(dict(GROUPING_DEFAULTS, ngroup=5)),
                                          stream=STREAM_DEFAULTS, memory=MEMORY_DEFAULTS))

    #: declared ranges (checked when the head is built): the thresholds gamma ± gap·(1 - gamma) / gap·gamma lie in
    #: [0, 1] only for gamma and gap in [0, 1] (AdaNeg, Sec. 3.2); the memory keeps memleng - 1 images per label
    option_ranges = MappingProxyType(dict(NegLabelHead.option_ranges, **{
        'lam': Range(ge=0, why="the weight of NegLabel's score"),
        'memory.gamma': Range(ge=0, le=1, why='a threshold on NegLabel scores in [0, 1]'),
        'memory.gap': Range(ge=0, le=1, why='a fraction of the distance to 0 or 1'),
        'memory.memleng': Range(ge=2, integer=True, why='slot 0 is the text prototype; images take slots 1 .. L - 1'),
        'memory.beta': Range(ge=0, why='the sharpness of the sample proxies'),
        'stream.batch_size': Range(ge=1, integer=True, why='images per memory update'),
    }))

    def __init__(self,
                 proxies: Sequence[str] = ('task', 'sample'),
                 lam: float = 0.1,
                 stream: Optional[Mapping[str, Any]] = None,
                 memory: Optional[Mapping[str, Any]] = None,
                 **kwargs):
        super().__init__(**kwargs)
        stream, memory = self.options('stream', stream), self.options('memory', memory)
        stream_seeds, stream_batch_size = stream['seeds'], stream['batch_size']
        proxies, seeds = tuple(proxies), tuple(int(s) for s in stream_seeds)
        bad = [p for p in proxies if p not in PROXIES]
        if not proxies or bad or len(set(proxies)) != len(proxies):
            raise ConfigError(f'proxies must be distinct values of {PROXIES}, got {proxies}')
        if not seeds or len(set(seeds)) != len(seeds):
            raise ConfigError(f'stream.seeds must be distinct integers, got {stream_seeds}')
        self.proxies, self.stream_seeds = proxies, seeds
        self.stream_batch_size = int(stream_batch_size)
        # the arguments of adaneg_stream_scores besides the stream: the memory options and lam
        self.stream_cfg = dict(gamma=memory['gamma'], gap=memory['gap'], lam=lam, memleng=memory['memleng'],
                               beta=memory['beta'], full_capacity=memory['full_capacity'],
                               replacement=memory['replacement'], score_before_update=memory['score_before_update'])
        # the run names: proxy-major, the first seed first
        self.runs = [(self._name(p, s), p, s) for p in proxies for s in seeds]
        self.score_names = [name for name, _, _ in self.runs]
        self.replicates = {self._name(p, seeds[0]): [self._name(p, s) for s in seeds] for p in proxies}
        self.register_buffer('labels', torch.zeros(0), persistent=False)  # T = [ID; negatives], mined order

    def _name(self, proxy: str, seed: int) -> str:
        name = self.score_name if proxy == self.proxies[0] else f'{self.score_name}_{proxy}'
        return name if seed == self.stream_seeds[0] else f'{name}_seed{seed}'

    def prepare(self, ctx: HeadContext) -> 'AdaNegHead':
        super().prepare(ctx)
        self.labels = torch.cat([self.id_text, self.neg_emb.to(self.id_text)])
        return self

    def forward(self, feats: Features) -> Dict[str, torch.Tensor]:
        """Scores of one (ID, OOD set) pair's samples, in the order given: every (proxy, seed) run streams them in
        its seeded order with a fresh memory."""
        self._check_prepared()
        h = self.kind(feats, 'global', 'AdaNegHead')
        dtype = torch.float64 if h.dtype == torch.float64 else torch.float32
        h = h.to(dtype)
        labels = self.labels.to(dtype)
        memory = AdaNegMemory(labels, self.num_id, self.stream_cfg['memleng'], self.stream_cfg['full_capacity'],
                              self.stream_cfg['replacement'])
        cfg = {k: v for k, v in self.stream_cfg.items() if k not in ('memleng', 'full_capacity', 'replacement')}
        out = {}
        for name, proxy, seed in self.runs:
            order = seeded_order(h.shape[0], seed)
            result = adaneg_stream_scores(h[order.to(h.device)], labels, self.num_id, self.stream_batch_size,
                                          1.0 / self.tau, self.ngroup, self.perm, proxies=proxy,
                                          memory=memory, memleng=self.stream_cfg['memleng'],
                                          full_capacity=self.stream_cfg['full_capacity'],
                                          replacement=self.stream_cfg['replacement'], **cfg)
            score = torch.empty_like(result['score'])
            score[order.to(score.device)] = result['score']
            out[name] = score
            print_log(f'AdaNeg {name}: {h.shape[0]} images streamed, {result["written"]} written, '
                      f'{result["replaced"]} replaced', logger='current', level=logging.DEBUG)
        return out

    @property
    def num_id(self) -> int:
        return int(self.id_text.shape[0])
