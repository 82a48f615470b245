"""OOD detectors: one head family (:class:`BaseOODHead`), named scores, higher = more in-distribution.

A config's ``model.head`` / ``model.extra_heads`` and ``tools/score.py --methods NAME`` build the same classes:
:data:`METHODS` is the table of short method names to head configs (not a second registry), and
:func:`build_method` builds one with options (``build_method('knn', dict(k=100))``).

=========================  ===================================================================  =========
name                       head config                                                          needs fit
=========================  ===================================================================  =========
``msp`` ``maxlogit``       ``LogitHead(scores=(name, ))`` on zero-shot logits (scale 100)       no
``energy`` ``l1norm``
``gen``                    ``GENHead()``: generalized entropy of the zero-shot softmax (γ 0.1, M 100)   no
``klm`` ``plp_klm``        ``KLMatchingHead()``: KL to class-mean softmax templates (zero-shot / probe)   yes
``gradnorm``               ``GradNormHead()``: ‖h‖₁ Σ|C·p − 1| (zero-shot h-view; ``plp_gradnorm``: probe)  no
``react`` ``plp_react``    ``ReActHead()``: energy of min(z, c), c the ID-train 90th percentile   yes
``ash`` ``plp_ash``        ``ASHHead()``: energy of ASH-B(z), 90 % pruned (variants 'p', 's')     no
``scale`` ``plp_scale``    ``SCALEHead()``: energy of z · e^r, r = s₁ / s₂ at the 85th percentile  no
``dice`` ``plp_dice``      ``DICEHead()``: energy with W masked by ID-train contributions (p 90)  yes
``mcm``                    ``MCMHead(tau=1)``                                                   no
``glmcm``                  ``MCMHead(tau=1, local_weight=0.5)`` (local features)                no
``neglabel``               ``NegLabelHead()`` (mined negatives, cached)                         no
``csp``                    ``CSPHead(templates='csp_noun')``: NegLabel on a conjugated pool     no
``negrefine``              ``NegRefineHead``: NegLabel + 2 x NegRefine's multi-matching score   no
``adaneg``                 ``AdaNegHead(templates='adaneg')``: memory, per (ID, OOD set) pair   no
``knn``                    ``KNNHead(k=50)``                                                    yes
``mahalanobis`` ``rmd``    ``MahalanobisHead(relative=False / True)``                           yes
``vim`` ``plp_vim``        ``ViMHead()``: energy − α · residual norm outside the top-256 subspace yes
``she`` ``plp_she``        ``SHEHead()``: ⟨z, μ_ŷ⟩, class means of correct ID-train samples     yes
``nnguide`` ...            ``NNGuideHead()``: energy × top-100 similarity to a 1 % ID-train bank yes
``fdbd`` ``plp_fdbd``      ``FDBDHead()``: Σ boundary distances / ‖z − μ‖ (affine logits)        yes
``plp_energy`` ...         ``LogitHead(logits='probe')``: the trained probe's logits (PLP)      no
``plp_knn``                ``KNNHead`` on the probe's z-scored ``pre_proj``, k=1, exp-cos       yes
``plp_mahalanobis``        ``MahalanobisHead`` on z-scored features, pseudo-label classes       yes
``plp_logit_mahalanobis``  ``MahalanobisHead`` on probe logits, mean of per-class covariances   yes
``pseudo_msp``             ``MCMHead(tau=1, templates='plp5')`` (PLP's pseudo-MSP baseline)     no
``npos_outlier``           ``NPOSHead()``: an NPOS model's outlier-MLP logit                      no
``clipn``                  ``CLIPNHead()``: ATD and CTW of a CLIPN model's "no" prototypes      no
=========================  ===================================================================  =========

``tools/score.py --methods config`` scores with the config's own heads instead (every named score).
"""
import copy
import difflib
import inspect
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmpretrain.registry import MODELS

from ...utils.errors import UserError

from .adaneg_head import AdaNegHead
from .ash_head import ASHHead
from .dice_head import DICEHead
from .react_head import ReActHead
from .scale_head import SCALEHead
from .base import BaseOODHead, Features, HeadContext
from .clipn_head import CLIPNHead
from .gen_head import GENHead
from .gradnorm_head import GradNormHead
from .klm_head import KLMatchingHead
from .linear_view import LinearView, LinearViewHead, build_view
from .vim_head import ViMHead
from .she_head import SHEHead
from .nnguide_head import NNGuideHead
from .fdbd_head import FDBDHead
from .feature_space import SPACES, FittedHead, KNNHead, MahalanobisHead
from .plp_head import LinearProbeHead, zscore_statistics
from .logit_head import LogitHead, probe_of, zero_shot_logits
from .mcm_head import MCMHead
from .neglabel_head import CSPHead, NegLabelHead
from .negrefine_head import NegRefineHead
from .npos_head import NPOSHead
from .set_level import pair_stream, score_pairs

__all__ = [
    'BaseOODHead', 'HeadContext', 'Features', 'LogitHead', 'GENHead', 'LinearView', 'LinearViewHead', 'build_view',
    'ReActHead', 'ASHHead', 'SCALEHead', 'DICEHead',
    'ViMHead', 'SHEHead', 'NNGuideHead', 'FDBDHead',
    'MCMHead', 'NegLabelHead', 'CSPHead',
    'AdaNegHead', 'NegRefineHead', 'NPOSHead', 'LinearProbeHead',
    'CLIPNHead', 'FittedHead', 'KNNHead', 'MahalanobisHead', 'SPACES', 'zscore_statistics', 'zero_shot_logits',
    'probe_of', 'score_pairs', 'pair_stream', 'METHODS', 'build_method', 'list_methods', 'build_head', 'MethodError',
    'METHOD_GROUPS', 'expand_methods', 'method_config',
    'KLMatchingHead', 'GradNormHead',
]


def _probe_logits(score: str) -> dict:
    return dict(type='LogitHead', logits='probe', scores=(score, ), prefix='plp_')


#: Short method names -> head configs (``tools/score.py --methods NAME``). Adding a method adds a line here.
METHODS: Dict[str, dict] = {
    'msp': dict(type='LogitHead', scores=('msp', )),
    'maxlogit': dict(type='LogitHead', scores=('maxlogit', )),
    'energy': dict(type='LogitHead', scores=('energy', )),
    'gen': dict(type='GENHead'),
    'plp_gen': dict(type='GENHead', logits='probe', prefix='plp_'),
    'klm': dict(type='KLMatchingHead'),
    'plp_klm': dict(type='KLMatchingHead', logits='probe', prefix='plp_'),
    'gradnorm': dict(type='GradNormHead'),
    'plp_gradnorm': dict(type='GradNormHead', view='probe', prefix='plp_'),
    'l1norm': dict(type='LogitHead', scores=('l1norm', )),
    'mcm': dict(type='MCMHead'),
    'glmcm': dict(type='MCMHead', local_weight=0.5),
    'neglabel': dict(type='NegLabelHead'),
    'csp': dict(type='CSPHead', templates='csp_noun'),
    'negrefine': dict(type='NegRefineHead', templates='csp_noun',
                      mining=dict(selected_file=dict(noun='txtfiles/negrefine/neg_labels_noun.txt',
                                                     adj='txtfiles/negrefine/neg_labels_adj.txt'))),
    'adaneg': dict(type='AdaNegHead', templates='adaneg'),
    'knn': dict(type='KNNHead'),
    'mahalanobis': dict(type='MahalanobisHead'),
    'rmd': dict(type='MahalanobisHead', relative=True),
    'plp_energy': _probe_logits('energy'),
    'plp_msp': _probe_logits('msp'),
    'plp_maxlogit': _probe_logits('maxlogit'),
    'plp_l1norm': _probe_logits('l1norm'),
    'plp_knn': dict(type='KNNHead', feature='pre_proj', space='probe_zscore', k=1, form='exp_cos', prefix='plp_'),
    'plp_mahalanobis': dict(type='MahalanobisHead', feature='pre_proj', space='probe_zscore', labels='pseudo',
                            prefix='plp_'),
    'plp_logit_mahalanobis': dict(type='MahalanobisHead', feature='pre_proj', space='probe_logits',
                                  labels='pseudo', covariance='mean_per_class', prefix='plp_logit_'),
    'pseudo_msp': dict(type='MCMHead', templates='plp5', prefix='pseudo_'),
    'clipn': dict(type='CLIPNHead'),
    'npos_outlier': dict(type='NPOSHead'),
    'vim': dict(type='ViMHead'),
    'she': dict(type='SHEHead'),
    'nnguide': dict(type='NNGuideHead'),
    'fdbd': dict(type='FDBDHead'),
    'plp_vim': dict(type='ViMHead', view='probe', prefix='plp_'),
    'plp_she': dict(type='SHEHead', view='probe', prefix='plp_'),
    'plp_nnguide': dict(type='NNGuideHead', view='probe', prefix='plp_'),
    'plp_fdbd': dict(type='FDBDHead', view='probe', prefix='plp_'),
    'react': dict(type='ReActHead'),
    'ash': dict(type='ASHHead'),
    'scale': dict(type='SCALEHead'),
    'dice': dict(type='DICEHead'),
    'plp_react': dict(type='ReActHead', view='probe', prefix='plp_'),
    'plp_ash': dict(type='ASHHead', view='probe', prefix='plp_'),
    'plp_scale': dict(type='SCALEHead', view='probe', prefix='plp_'),
    'plp_dice': dict(type='DICEHead', view='probe', prefix='plp_'),
}


#: Named groups of methods (``tools/score.py --methods neglabel_family``): the negative-label family beside the
#: zero-shot baselines, one table from one feature extraction (``glmcm`` also gives ``mcm`` and ``local_mcm``).
METHOD_GROUPS: Dict[str, Tuple[str, ...]] = {
    'neglabel_family': ('neglabel', 'csp', 'adaneg', 'negrefine', 'glmcm', 'msp', 'maxlogit', 'energy'),
    # the classic post-hoc detectors that score cached features (docs/posthoc.md; ODIN needs images: not here)
    'posthoc': ('msp', 'maxlogit', 'energy', 'gen', 'klm', 'gradnorm', 'react', 'ash', 'scale', 'dice', 'vim', 'she',
                'nnguide', 'fdbd'),
    'plp_posthoc': ('plp_msp', 'plp_maxlogit', 'plp_energy', 'plp_gen', 'plp_klm', 'plp_gradnorm', 'plp_react',
                    'plp_ash', 'plp_scale', 'plp_dice', 'plp_vim', 'plp_she', 'plp_nnguide', 'plp_fdbd'),
}


def expand_methods(names: Sequence[str]) -> List[str]:
    """Method names with every group of :data:`METHOD_GROUPS` replaced by its members, duplicates dropped, order
    kept (``['config', 'neglabel_family']`` -> ``['config', 'neglabel', 'csp', ...]``)."""
    out = []
    for name in names:
        out.extend(METHOD_GROUPS.get(name, (name, )))
    return list(dict.fromkeys(out))


class MethodError(UserError, KeyError):
    """An unknown method name or head option; the message lists the valid ones (the tools print it without a
    traceback)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def list_methods() -> List[str]:
    """The short method names of :data:`METHODS`."""
    return sorted(METHODS)


def _valid_options(cls) -> List[str]:
    names = []
    for klass in cls.__mro__:
        if klass in (BaseOODHead, object) or not issubclass(klass, BaseOODHead):
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name not in ('self', 'init_cfg') and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                names.append(name)
    names += [n for n in inspect.signature(BaseOODHead.__init__).parameters if n not in ('self', 'init_cfg')]
    return sorted(set(names))


def build_head(cfg: dict, where: str = 'head') -> BaseOODHead:
    """Build a head config; an unknown option names the class's valid ones (``where`` says which option it was)."""
    cfg = dict(cfg)
    cls = MODELS.get(cfg.get('type')) if isinstance(cfg.get('type'), str) else cfg.get('type')
    try:
        return MODELS.build(cfg)
    except TypeError as err:
        if cls is None or 'unexpected keyword argument' not in str(err):
            raise
        valid = _valid_options(cls)
        bad = [k for k in cfg if k != 'type' and k not in valid]
        hints = {k: difflib.get_close_matches(k, valid, n=1) for k in bad}
        hint = '; '.join(f'"{k}" (did you mean "{v[0]}"?)' if v else f'"{k}"' for k, v in hints.items())
        raise MethodError(f'Invalid option(s) {hint} for {where} {cls.__name__}; valid options: {valid}') from None


def _with_options(cfg: dict, options: Optional[Dict[str, Any]]) -> dict:
    """A copy of ``cfg`` with ``options`` set; a dotted key sets one key of an option dict (``grouping.ngroup``),
    the rest of that dict kept."""
    cfg = copy.deepcopy(cfg)
    for key, value in (options or {}).items():
        *groups, last = str(key).split('.')
        node = cfg
        for group in groups:
            node[group] = dict(node.get(group) or {})
            node = node[group]
        node[last] = value
    return cfg


def method_config(name: str, options: Optional[Dict[str, Any]] = None) -> dict:
    """The head config of method ``name`` (:data:`METHODS`) with keyword ``options`` on top, checked by building it.

    Raises:
        MethodError: unknown method (the message lists the known ones and the closest match) or an unknown option
            (the message lists the valid ones).
    """
    build_method(name, options)
    return _with_options(METHODS[name], options)


def build_method(name: str, options: Optional[Dict[str, Any]] = None) -> BaseOODHead:
    """Build the head of method ``name`` (:data:`METHODS`) with keyword ``options`` on top of its config.

    Raises:
        MethodError: unknown method (the message lists the known ones and the closest match) or an unknown option
            (the message lists the valid ones).
    """
    if name not in METHODS:
        close = difflib.get_close_matches(name, list(METHODS) + ['config'], n=1)
        hint = f' Did you mean "{close[0]}"?' if close else ''
        raise MethodError(f'Unknown OOD method "{name}".{hint} Known methods: config, {", ".join(list_methods())}')
    return build_head(_with_options(METHODS[name], options), where=f'method "{name}"')
