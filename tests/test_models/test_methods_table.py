"""``METHODS`` (``tools/score.py --methods NAME``) against the configs, and one place for every default.

A config's heads and ``--methods NAME`` build the same classes; where both stand for one method they must be the
same head, or ``tools/score.py --methods NAME`` on that config would not reproduce ``tools/test.py``'s score.

Two heads *agree* when they are equal after these rules, each what the code does (nothing else is forgiven):

1. an option left out is the default of the head's signature (``inspect.signature`` over the MRO);
2. ``templates=None`` is the classifier's templates and ensemble (``BaseOODHead.prepare``); own ``templates`` equal
   to the classifier's, combined the classifier's way, give the classifier's prototypes (``HeadContext.prototypes``);
3. ``logit_scale=None`` is the classifier's ``logit_scale`` (itself None on the tiny configs: the trained scale);
4. a ``LogitHead`` with several ``scores`` is one single-score head per score (each score reads the same logits).

The pairs (:data:`AGREE`: a config head -> the method it must equal):

* ``mcm``: the head of mcm_vitb16(_openood), of the NPOS configs (MCM on the fine-tuned features; npos_vitb16_in100,
  npos_vitb16_in1k, npos_tiny_digits);
* ``glmcm``: the head of glmcm_vitb16(_openood);
* ``neglabel`` / ``csp`` / ``adaneg`` / ``negrefine``: the head of the ViT-B/16 config of each;
* ``clipn``: the head of clipn_vitb16_cc3m; ``npos_outlier``: the NPOS configs' ``NPOSHead``;
* ``msp`` / ``maxlogit`` / ``energy``: the zero-shot ``LogitHead`` of every ViT-B/16 config (x100 logits).

:data:`DIFFER` lists, with the reason, the config heads of those types that differ on purpose (the tiny digits
configs: their tower's trained logit scale, MCM at tau = 0.1, the negative-label rules scaled to 5 classes). Every
config head whose type a ``METHODS`` entry has is in exactly one of the two; every ``METHODS`` entry is some config's
head or in :data:`NOT_IN_CONFIGS` with the reason; the PLP configs' probe reports its ``plp_*`` scores as the
``plp_*`` entries do. The last tests feed the checks hand-made mismatching tables and config texts: each must fail.

Defaults: no ``METHODS`` entry and no head written in a config under ``configs/`` repeats a default of its head's
signature (an option of a head merged into a base's head may, to override the base's other value).
"""
import ast
import copy
import glob
import inspect
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional

import pytest
from conftest import REPO, method_configs
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.models.heads import METHODS, BaseOODHead
from mmood.text import resolve_templates

BASELINES = ('msp', 'maxlogit', 'energy')
NPOS = ('npos_vitb16_in100', 'npos_vitb16_in1k', 'npos_tiny_digits')
NPOS_SCRATCH = ('npos_resnet18_cifar10', 'npos_resnet34_cifar100', 'npos_resnet18_cifar100',
                'npos_resnet18_tiny_digits')
#: ViT-B/16 configs whose zero-shot LogitHead scores x100 logits (``extra_heads[i]``)
ZERO_SHOT_VITB16 = ('mcm_vitb16', 'mcm_vitb16_openood', 'glmcm_vitb16', 'glmcm_vitb16_openood', 'neglabel_vitb16',
                    'neglabel_vitb16_openood', 'csp_vitb16', 'csp_vitb16_openood', 'adaneg_vitb16',
                    'adaneg_vitb16_openood', 'negrefine_vitb16', 'clipn_vitb16_cc3m')
ZERO_SHOT_VITB16 += ('klm_vitb16', 'gradnorm_vitb16', 'odin_vitb16')
VITB16_LOGITS = {c: 0 for c in ZERO_SHOT_VITB16}
VITB16_LOGITS.update(npos_vitb16_in100=1, npos_vitb16_in1k=1)
#: the same zero-shot configs on the other CLIP backbones (only the backbone differs)
OTHER_BACKBONES = tuple(f'{m}_{b}' for m in ('mcm', 'neglabel') for b in ('rn50', 'rn101', 'vitb32', 'vitl14'))
#: ... and on the transformers models (the same heads and logit baselines)
OTHER_BACKBONES += ('neglabel_align_base', 'neglabel_altclip', 'neglabel_groupvit', 'mcm_hf_clip_vitb16')
#: ... and the ViT-B/16 configs on other ID sets (only the benchmark and the class names differ)
OTHER_BACKBONES += tuple(f'{m}_vitb16_{s}' for m in ('mcm', 'neglabel') for s in (
    'inv2', 'insketch', 'ina', 'inr', 'in10', 'in20', 'in100', 'cub200', 'cars', 'food101', 'pets'))
VITB16_LOGITS.update({c: 0 for c in OTHER_BACKBONES + ('clipn_vitb32_cc3m', 'clipn_handcrafted_vitb32_cc3m')})
VITB16_LOGITS.update({f'{m}_vitb16': 0 for m in ('vim', 'she', 'nnguide', 'fdbd')})  # fitted feature-space configs
VITB16_LOGITS.update({f'{m}_vitb16': 0 for m in ('react', 'ash', 'scale', 'dice')})  # activation shaping configs
TINY_LOGITS = {c: 0 for c in ('mcm_tiny_digits', 'neglabel_tiny_digits', 'csp_tiny_digits', 'adaneg_tiny_digits',
                              'negrefine_tiny_digits', 'clipn_tiny_digits', 'clipn_handcrafted_tiny_digits',
                              'posthoc_tiny_digits', 'odin_tiny_digits')}

#: config head ('<config>:<where>', '/<score>' for one score of a LogitHead) -> the METHODS entry it must equal
AGREE: Dict[str, str] = {
    'gen_plp_vitb16_in1k:extra_heads[0]': 'plp_gen',
    'klm_plp_vitb16_in1k:extra_heads[0]': 'plp_klm',
    'gradnorm_plp_vitb16_in1k:extra_heads[0]': 'plp_gradnorm',
    'react_plp_vitb16_in1k:extra_heads[0]': 'plp_react',
    'ash_plp_vitb16_in1k:extra_heads[0]': 'plp_ash',
    'scale_plp_vitb16_in1k:extra_heads[0]': 'plp_scale',
    'dice_plp_vitb16_in1k:extra_heads[0]': 'plp_dice',
    'vim_plp_vitb16_in1k:extra_heads[0]': 'plp_vim',
    'she_plp_vitb16_in1k:extra_heads[0]': 'plp_she',
    'nnguide_plp_vitb16_in1k:extra_heads[0]': 'plp_nnguide',
    'fdbd_plp_vitb16_in1k:extra_heads[0]': 'plp_fdbd',
    # PLP's fine-tuned timm baseline: the detectors on the model's own head, exactly the plp_* methods
    **{f'plp_timm_vitb16_in1k_finetuned:extra_heads[{i}]': f'plp_{m}' for i, m in enumerate(
        ('gen', 'klm', 'gradnorm', 'react', 'ash', 'scale', 'dice', 'vim', 'she', 'nnguide', 'fdbd'))},
    'posthoc_tiny_digits:extra_heads[4]': 'react',
    'posthoc_tiny_digits:extra_heads[5]': 'ash',
    'posthoc_tiny_digits:extra_heads[6]': 'scale',
    'posthoc_tiny_digits:extra_heads[7]': 'dice',
    'posthoc_tiny_digits:extra_heads[9]': 'she',
    'posthoc_tiny_digits:extra_heads[11]': 'fdbd',
    **{f'{c}:head': 'mcm' for c in ('mcm_vitb16', 'mcm_vitb16_openood') + NPOS},
    **{f'{c}:head': 'glmcm' for c in ('glmcm_vitb16', 'glmcm_vitb16_openood')},
    **{f'{c}:head': 'neglabel' for c in ('neglabel_vitb16', 'neglabel_vitb16_openood')},
    **{f'{c}:head': 'csp' for c in ('csp_vitb16', 'csp_vitb16_openood')},
    **{f'{c}:head': 'adaneg' for c in ('adaneg_vitb16', 'adaneg_vitb16_openood')},
    'negrefine_vitb16:head': 'negrefine',
    'clipn_vitb16_cc3m:head': 'clipn',
    'clipn_vitb32_cc3m:head': 'clipn',
    'clipn_handcrafted_vitb32_cc3m:head': 'clipn',
    **{f'{c}:head': c.split('_')[0] for c in OTHER_BACKBONES},
    **{f'{m}_vitb16:head': m for m in ('vim', 'she', 'nnguide', 'fdbd')},
    'klm_vitb16:head': 'klm',
    'gradnorm_vitb16:head': 'gradnorm',
    'odin_vitb16:head': 'mcm',  # ODINClassifier scores MCM beside ODIN
    **{f'{m}_vitb16:head': m for m in ('react', 'ash', 'scale', 'dice')},
    **{f'{c}:extra_heads[0]': 'npos_outlier' for c in NPOS + NPOS_SCRATCH},
    **{f'{c}:extra_heads[{i}]/{s}': s for c, i in VITB16_LOGITS.items() for s in BASELINES},
}

_TRAINED_SCALE = "the tiny tower's trained logit scale (model.logit_scale=None); the method's is 100"
_TINY_NEGATIVES = 'the negative-label rules scaled to 5 digit classes (groups, pool size, streams, ID-name removal)'
#: config heads of a METHODS type that differ from every entry on purpose -> why
DIFFER: Dict[str, str] = {
    'odin_tiny_digits:head': 'mcm_tiny_digits (tau = 0.1) under ODINClassifier',
    'posthoc_tiny_digits:extra_heads[1]': "at the tiny tower's trained logit scale",
    'posthoc_tiny_digits:extra_heads[2]': "at the tiny tower's trained logit scale",
    'posthoc_tiny_digits:extra_heads[3]': "at the tiny tower's trained logit scale",
    'posthoc_tiny_digits:extra_heads[8]': "dim = 32 < D = 64 of the tiny tower",
    'posthoc_tiny_digits:extra_heads[10]': "a bank of 10 % of ~630 images, K = 10",
    'posthoc_probe_tiny_digits:extra_heads[0]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[1]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[2]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[3]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[4]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[5]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[6]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[7]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[8]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[9]': "the probe view of TOE's probe, scores named probe_*",
    'posthoc_probe_tiny_digits:extra_heads[10]': "the probe view of TOE's probe, scores named probe_*",
    'mcm_tiny_digits:head': "tau = 0.1, near 1 / the tiny tower's logit scale (~14); MCM's is 1",
    'posthoc_tiny_digits:head': 'mcm_tiny_digits with an ID-train set for the fitted post-hoc detectors',
    'clipn_tiny_digits:extra_heads[1]': 'MCM at tau = 0.1, as mcm_tiny_digits',
    'clipn_tiny_digits:head': _TRAINED_SCALE,
    'clipn_handcrafted_tiny_digits:extra_heads[1]': 'MCM at tau = 0.1, as mcm_tiny_digits',
    'clipn_handcrafted_tiny_digits:head': _TRAINED_SCALE,
    **{f'{c}:head': _TINY_NEGATIVES
       for c in ('neglabel_tiny_digits', 'csp_tiny_digits', 'adaneg_tiny_digits', 'negrefine_tiny_digits')},
    **{f'{c}:extra_heads[{i}]/{s}': _TRAINED_SCALE for c, i in TINY_LOGITS.items() for s in BASELINES},
    'npos_tiny_digits:extra_heads[1]/energy': _TRAINED_SCALE,
    **{f'{c}:head': 'KNN at K = 300 (the from-scratch test script) on the trained ResNet; knn is K = 50'
       for c in NPOS_SCRATCH[:3]},
    'npos_resnet18_tiny_digits:head': 'KNN at K = 5 on a bank of ~630 digits',
}

#: METHODS entries no config has as a head -> where they are scored instead
NOT_IN_CONFIGS: Dict[str, str] = {
    'l1norm': 'no config reports L1 of the zero-shot logits; --methods l1norm on any zero-shot config',
    'knn': 'fitted on ID-train features: --methods knn on a zero-shot config with an ID-train set',
    'mahalanobis': 'fitted, as knn',
    'rmd': 'fitted, as knn',
    **{f'plp_{s}': "the probe's logits of a PLP config, whose LinearProbeHead reports plp_energy and plp_msp alike "
                   "(test_plp_configs_report_the_plp_logit_methods)" for s in ('energy', 'msp', 'maxlogit', 'l1norm')},
    'plp_knn': "fitted on a PLP config's probe space",
    'plp_mahalanobis': "fitted on a PLP config's probe space",
    'plp_logit_mahalanobis': "fitted on a PLP config's probe logits",
    'gen': 'a post-hoc detector of any config\'s logits: --methods gen (no config of its own yet)',
    'pseudo_msp': "PLP's pseudo-MSP baseline (MCM with PLP's 5 prompts) on a PLP config, whose head is the probe",
}


# ---------------------------------------------------------------------------------------------- helpers
def signature_defaults(cls) -> dict:
    """Option -> default of a head class: its ``__init__`` and those of its head bases (a subclass's first)."""
    out = {}
    for klass in cls.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, BaseOODHead)):
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name not in ('self', 'init_cfg') and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                out.setdefault(name, param.default)
    return out


def canon(value):
    """Lists and tuples alike, recursively (configs hold either)."""
    if isinstance(value, (list, tuple)):
        return tuple(canon(v) for v in value)
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    return value


def head_class(type_name):
    cls = MODELS.get(type_name) if isinstance(type_name, str) else None
    return cls if isinstance(cls, type) and issubclass(cls, BaseOODHead) else None


def split_scores(cfg: dict) -> Dict[Optional[str], dict]:
    """Rule 4: a LogitHead -> {score: single-score head}; any other head -> {None: the head}."""
    if cfg['type'] != 'LogitHead':
        return {None: cfg}
    scores = cfg.get('scores', signature_defaults(MODELS.get('LogitHead'))['scores'])
    scores = (scores, ) if isinstance(scores, str) else tuple(scores)
    return {s: dict(cfg, scores=(s, )) for s in scores}


def classifier_context(model: dict) -> dict:
    """What rules 2 and 3 read of the classifier: templates, ensemble and logit_scale (config or signature)."""
    defaults = {}
    for klass in MODELS.get(model['type']).__mro__:
        if '__init__' in vars(klass):
            for name, param in inspect.signature(klass.__init__).parameters.items():
                defaults.setdefault(name, param.default)
    return {k: model.get(k, defaults.get(k)) for k in ('templates', 'ensemble', 'logit_scale')}


def resolved(cfg: dict, ctx: dict) -> tuple:
    """``(type, options)`` of a head config under rules 1-3, for a classifier context."""
    cfg = {k: v for k, v in cfg.items() if k != '_delete_'}
    cls = head_class(cfg['type'])
    opts = signature_defaults(cls)
    unknown = set(cfg) - set(opts) - {'type'}
    assert not unknown, f'{cfg["type"]} has no option(s) {sorted(unknown)}'
    opts.update({k: v for k, v in cfg.items() if k != 'type'})
    templates = opts.pop('templates')
    if templates is None:
        opts['prototypes'] = (tuple(resolve_templates(ctx['templates'])), ctx['ensemble'])
    else:
        ensemble = getattr(MODELS.build(dict(cfg)), 'template_ensemble', None) or ctx['ensemble']
        opts['prototypes'] = (tuple(resolve_templates(templates)), ensemble)
    if 'logit_scale' in opts and opts['logit_scale'] is None:
        opts['logit_scale'] = ctx['logit_scale']
    return cls.__name__, canon(opts)


def differences(a: tuple, b: tuple) -> dict:
    if a[0] != b[0]:
        return dict(type=(a[0], b[0]))
    return {k: (a[1].get(k), b[1].get(k)) for k in sorted(set(a[1]) | set(b[1])) if a[1].get(k) != b[1].get(k)}


CONFIGS = method_configs()


@lru_cache(maxsize=None)
def config_heads() -> Dict[str, tuple]:
    """'<config>:<where>[/<score>]' -> (head config, classifier context) of every head of every config."""
    out = {}
    for path in CONFIGS:
        model = Config.fromfile(path).model.to_dict()
        if model.get('head') is None and not model.get('extra_heads'):
            continue  # no OOD heads (the contrastive training config)
        ctx = classifier_context(model)
        stem = osp.splitext(osp.basename(path))[0]
        extra = [(f'extra_heads[{i}]', h) for i, h in enumerate(model.get('extra_heads') or ())]
        heads = [('head', model.get('head'))] + extra
        for where, head in heads:
            if head:
                for score, unit in split_scores(head).items():
                    out[f'{stem}:{where}' + (f'/{score}' if score else '')] = (unit, ctx)
    return out


def agreement_problems(methods: dict, heads: Dict[str, tuple], agree: dict = None, differ: dict = None,
                       not_in_configs: dict = None) -> List[str]:
    """Every way ``methods`` and the config ``heads`` fail the pairs (empty when all is well)."""
    agree = AGREE if agree is None else agree
    differ = DIFFER if differ is None else differ
    not_in_configs = NOT_IN_CONFIGS if not_in_configs is None else not_in_configs
    problems = []
    method_types = {m['type'] for m in methods.values()}
    for key, (cfg, _) in heads.items():
        if cfg['type'] in method_types and (key in agree) == (key in differ):
            problems.append(f'{key} ({cfg["type"]}) must be in exactly one of AGREE and DIFFER')
    problems += [f'{key} names no config head' for key in list(agree) + list(differ) if key not in heads]
    for key, name in agree.items():
        if key not in heads:
            continue
        if name not in methods:
            problems.append(f'{key} should equal METHODS["{name}"], which does not exist')
            continue
        cfg, ctx = heads[key]
        diff = differences(resolved(cfg, ctx), resolved(methods[name], ctx))
        if diff:
            problems.append(f'{key} and METHODS["{name}"] differ (config, method): {diff}')
    for key in differ:
        if key in heads:
            cfg, ctx = heads[key]
            same = [n for n, m in methods.items() if m['type'] == cfg['type']
                    and resolved(cfg, ctx) == resolved(m, ctx)]
            if same:
                problems.append(f'{key} is listed in DIFFER but equals METHODS{same}: move it to AGREE')
    reached = set(agree.values())
    for name in methods:
        if name not in reached and name not in not_in_configs:
            problems.append(f'METHODS["{name}"] is no config\'s head: pair it in AGREE or explain it in '
                            f'NOT_IN_CONFIGS')
        if name in reached and name in not_in_configs:
            problems.append(f'METHODS["{name}"] is a config\'s head: drop it from NOT_IN_CONFIGS')
    problems += [f'NOT_IN_CONFIGS names "{n}", not a method' for n in not_in_configs if n not in methods]
    return problems


def restated_in_methods(methods: dict) -> List[str]:
    """``METHODS["name"].option`` for every option that repeats its head's signature default."""
    out = []
    for name, cfg in methods.items():
        defaults = signature_defaults(head_class(cfg['type']))
        out += [f'METHODS["{name}"].{k}={v!r}' for k, v in cfg.items()
                if k != 'type' and k in defaults and canon(v) == canon(defaults[k])]
    return out


def _literal(node):
    """The value of a literal, also of ``dict(key=literal, ...)`` (nested option dicts); else ``_NOT_LITERAL``."""
    kwargs = _dict_call(node)
    if kwargs is not None:
        values = {k: _literal(v) for k, v in kwargs.items()}
        return _NOT_LITERAL if any(v is _NOT_LITERAL for v in values.values()) else values
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _dict_call(node) -> Optional[Dict[str, ast.AST]]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' and not node.args:
        return {kw.arg: kw.value for kw in node.keywords if kw.arg}
    return None


def _inherited_head(path: str, tree: ast.Module) -> dict:
    """The ``model.head`` of the file's ``_base_`` configs (what a head dict without ``_delete_`` merges into)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_' for t in node.targets):
            bases = _literal(node.value)
            for base in [bases] if isinstance(bases, str) else list(bases):
                head = (Config.fromfile(osp.join(osp.dirname(path), base)).get('model') or {}).get('head')
                if head:
                    return head.to_dict()
    return {}


def restated_in_config(path: str, label: str = None) -> List[str]:
    """``file:line where Head option=value`` for every option of a head written in a config file that repeats its
    head's signature default. A ``model.head`` merged into a base's head (no ``_delete_``) may repeat a default where
    the base sets another value: that is an override, not a restatement."""
    tree = ast.parse(open(path).read(), path)
    model_head_calls = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'model' for t in node.targets):
            model = _dict_call(node.value) or {}
            head = model.get('head')
            merged = _literal(model.get('_delete_', ast.Constant(False))) is not True
            if _dict_call(head) is not None and merged:
                model_head_calls[id(head)] = head
    out = []
    for node in ast.walk(tree):
        kwargs = _dict_call(node)
        if kwargs is None:
            continue
        merges = id(node) in model_head_calls and _literal(kwargs.get('_delete_', ast.Constant(False))) is not True
        inherited = _inherited_head(path, tree) if merges else {}
        type_name = _literal(kwargs['type']) if 'type' in kwargs else inherited.get('type')
        cls = head_class(type_name)
        if cls is None:
            continue
        defaults = signature_defaults(cls)
        for key, value_node in kwargs.items():
            value = _literal(value_node)
            if key in ('type', '_delete_') or key not in defaults or value is _NOT_LITERAL:
                continue
            if canon(value) != canon(defaults[key]):
                continue
            if inherited.get('type', type_name) == type_name and key in inherited and \
                    canon(inherited[key]) != canon(defaults[key]):
                continue  # overrides the base's other value
            out.append((value_node.lineno, f'{label or osp.relpath(path, REPO)}:{value_node.lineno} {type_name} '
                                           f'{key}={value!r}'))
    return [text for _, text in sorted(out)]


CONFIG_FILES = sorted(method_configs() +
                      glob.glob(osp.join(REPO, 'configs', '_base_', '**', '*.py'), recursive=True))


# ---------------------------------------------------------------------------------------------- the checks
def test_methods_agree_with_the_configs():
    assert agreement_problems(METHODS, config_heads()) == []


def test_the_pairs_say_something():
    """The tables are not vacuous: MCM's pair holds tau = 1, and every entry whose type is some config's
    ``model.head`` is paired (or explained)."""
    heads = config_heads()
    assert AGREE['mcm_vitb16:head'] == 'mcm' and AGREE['glmcm_vitb16:head'] == 'glmcm'
    assert heads['mcm_vitb16:head'][0]['type'] == 'MCMHead'
    assert resolved(heads['mcm_vitb16:head'][0], heads['mcm_vitb16:head'][1])[1]['tau'] == 1.0
    # every METHODS entry whose head type is some config's model.head is paired (or explained)
    head_types = {cfg['type'] for key, (cfg, _) in heads.items() if key.split(':')[1] == 'head'}
    for name, cfg in METHODS.items():
        if cfg['type'] in head_types:
            assert name in AGREE.values() or name in NOT_IN_CONFIGS, name


def test_plp_configs_report_the_plp_logit_methods():
    """The PLP configs' probe head reports ``plp_<score>`` with the temperature of METHODS' ``plp_<score>``
    (``LogitHead(logits='probe')`` on the same probe): the config's and ``--methods plp_energy``'s numbers agree."""
    plp = {k: v for k, v in config_heads().items() if k.startswith('plp_') and k.endswith(':head')}
    # ImageNet on ten backbones (ViT-B-16 and ViT-L-14 twice), CIFAR-10 and CIFAR-100; PLP's 8 timm baselines
    assert len(plp) == 12 + 8
    for key, (cfg, ctx) in plp.items():
        _, probe = resolved(cfg, ctx)
        assert probe['prefix'] == 'plp_', key
        for score in dict.fromkeys((probe['score'], ) + probe['scores']):
            _, method = resolved(METHODS[f'plp_{score}'], ctx)
            assert (method['logits'], method['scores'], method['prefix']) == ('probe', (score, ), 'plp_'), key
            assert method['temperature'] == probe['temperature'], key


def test_no_method_restates_a_default():
    assert restated_in_methods(METHODS) == []


@pytest.mark.parametrize('path', CONFIG_FILES, ids=[osp.relpath(p, REPO) for p in CONFIG_FILES])
def test_no_config_restates_a_default(path):
    assert restated_in_config(path) == []


# ---------------------------------------------------------------------------------------------- the checks fail
def _with(**changes):
    table = copy.deepcopy(METHODS)
    for name, cfg in changes.items():
        if cfg is None:
            table.pop(name)
        else:
            table[name] = cfg
    return table


@pytest.mark.parametrize('methods, expected, unexpected', [
    (_with(mcm=dict(type='MCMHead', tau=0.5)), 'mcm_vitb16:head and METHODS["mcm"] differ', None),
    (_with(glmcm=dict(type='MCMHead')), 'glmcm_vitb16:head and METHODS["glmcm"] differ', None),
    (_with(energy=dict(type='LogitHead', scores=('energy', ), temperature=2.0)),
     'mcm_vitb16:extra_heads[0]/energy and METHODS["energy"] differ', None),
    # logit_scale=None is the classifier's: 100 on the ViT-B/16 configs, the trained scale on the tiny ones
    (_with(msp=dict(type='LogitHead', scores=('msp', ), logit_scale=None)),
     'clipn_tiny_digits:extra_heads[0]/msp is listed in DIFFER but equals', 'mcm_vitb16:extra_heads[0]/msp'),
    (_with(clipn=dict(type='CLIPNHead', logit_scale=None)), 'clipn_tiny_digits:head is listed in DIFFER but equals',
     'clipn_vitb16_cc3m:head'),
    (_with(clipn=dict(type='CLIPNHead', scores=('atd', ))), 'clipn_vitb16_cc3m:head and METHODS["clipn"] differ',
     None),
    (_with(clipn=None), 'should equal METHODS["clipn"], which does not exist', None),
    (_with(mcm_local=dict(type='MCMHead', local_weight=0.25)), 'METHODS["mcm_local"] is no config\'s head', None),
    # own templates: the classifier's prototypes where they are its templates (mcm_vitb16), others elsewhere (NPOS)
    (_with(mcm=dict(type='MCMHead', templates='mcm')), 'npos_vitb16_in100:head and METHODS["mcm"] differ',
     'mcm_vitb16:head'),
], ids=['mcm-tau', 'glmcm-lambda', 'energy-T', 'msp-scale', 'clipn-scale', 'clipn-scores', 'clipn-gone', 'unpaired',
        'templates'])
def test_agreement_fails_on_a_mismatching_table(methods, expected, unexpected):
    problems = agreement_problems(methods, config_heads())
    assert any(expected in p for p in problems), problems
    assert unexpected is None or not any(p.startswith(unexpected + ' ') for p in problems), problems


def test_agreement_fails_on_mismatching_configs():
    heads = dict(config_heads())
    cfg, ctx = heads['mcm_vitb16:head']
    changed = dict(heads, **{'mcm_vitb16:head': (dict(cfg, tau=0.5), ctx)})
    assert any('mcm_vitb16:head and METHODS["mcm"] differ' in p and "'tau': (0.5, 1.0)" in p
               for p in agreement_problems(METHODS, changed))
    # the classifier's prototypes are part of the head: other templates for the config's MCM are another head
    changed = dict(heads, **{'mcm_vitb16:head': (cfg, dict(ctx, templates='plp5'))})
    assert agreement_problems(METHODS, changed) == []  # both sides read the classifier's
    changed = dict(heads, **{'mcm_vitb16:head': (dict(cfg, templates='plp5'), ctx)})
    assert any("'prototypes'" in p for p in agreement_problems(METHODS, changed))
    # a new config head of a METHODS type must be classified
    new = dict(heads, **{'mcm_rn50x4:head': (cfg, ctx)})
    assert 'mcm_rn50x4:head (MCMHead) must be in exactly one of AGREE and DIFFER' in agreement_problems(METHODS, new)
    assert any('names no config head' in p for p in agreement_problems(METHODS, heads, agree=dict(AGREE, x='mcm')))
    assert any('drop it from NOT_IN_CONFIGS' in p
               for p in agreement_problems(METHODS, heads, not_in_configs=dict(NOT_IN_CONFIGS, mcm='?')))


def test_restated_defaults_are_found(tmp_path):
    assert restated_in_methods(_with(mcm=dict(type='MCMHead', tau=1.0))) == ['METHODS["mcm"].tau=1.0']
    assert restated_in_methods(_with(knn=dict(type='KNNHead', k=50, prefix=''))) == \
        ['METHODS["knn"].k=50', 'METHODS["knn"].prefix=\'\'']
    base = tmp_path / 'base.py'
    base.write_text("model = dict(type='CLIPOODClassifier', head=dict(type='MCMHead', tau=0.5),\n"
                    "             extra_heads=[dict(type='LogitHead', scores=('msp', 'maxlogit', 'energy'))])\n")
    assert restated_in_config(str(base), label='base.py') == [
        "base.py:2 LogitHead scores=('msp', 'maxlogit', 'energy')"]
    child = tmp_path / 'child.py'
    child.write_text("_base_ = './base.py'\nmodel = dict(head=dict(tau=1.0, local_weight=0.0))\n")
    # tau=1.0 overrides the base's 0.5 (needed); local_weight=0.0 only repeats the default
    assert restated_in_config(str(child), label='child.py') == ['child.py:2 MCMHead local_weight=0.0']
    fresh = tmp_path / 'fresh.py'
    fresh.write_text("_base_ = './base.py'\nmodel = dict(head=dict(_delete_=True, type='MCMHead', tau=1.0),\n"
                     "             extra_heads=[dict(type='NegLabelHead', tau=0.01)])\n")
    assert restated_in_config(str(fresh), label='fresh.py') == [
        'fresh.py:2 MCMHead tau=1.0', 'fresh.py:3 NegLabelHead tau=0.01']
