"""The one OOD detector family: :class:`BaseOODHead` and its context :class:`HeadContext`.

Every OOD method of mmood is a head: a registered module that turns image features into **named scores**
(``{name: (B,) tensor}``, **higher = more in-distribution**). The same head classes serve

* ``tools/test.py`` / MMPretrain's ``tools/test.py``: the classifier's ``head`` (and ``extra_heads``) in a config,
  scored on every test batch;
* ``tools/score.py --methods NAME``: ``NAME`` looks up a head config in :data:`mmood.models.heads.METHODS`
  (a table of names to configs, not a registry), scored on cached features.

Life cycle (one for every head):

1. ``prepare(ctx)`` -- text-side state from a :class:`HeadContext`: ID prototypes (the classifier's, or the head's
   own ``templates``), mined negatives, a trained probe to read;
2. ``fit(feats, labels)`` -- only for heads with :attr:`requires_fit` (KNN, Mahalanobis): ID-train statistics,
   the attributes named in :attr:`fit_state_names` (cached by the engine: :meth:`fit_identity`, :meth:`fit_state`,
   :meth:`load_fit_state`);
3. ``forward(feats)`` -- ``{name: (B,)}`` for a batch of features (``feats``: kind -> tensor), or, for heads with
   :attr:`set_level`, ``forward(feats)`` on a whole *stream* of samples at once (an ID set followed by one OOD set,
   see :func:`~mmood.models.heads.score_pairs`): the score of a sample may then depend on the other samples.

The maths lives in :mod:`mmood.scores` (pure tensor functions); a head holds state and options only.
"""
import functools
import hashlib
import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor
from ...utils.errors import ConfigError
from ...utils.options import Range, check_ranges

__all__ = ['HeadContext', 'BaseOODHead', 'Features']

Features = Dict[str, Tensor]


@dataclass
class HeadContext:
    """What heads may use besides image features: the classifier's text side and where to keep results.

    Built by :meth:`CLIPOODClassifier.head_context` (or by hand in tests: only ``id_text`` is required).

    Attributes:
        id_text: (K, D) unit ID class prototypes (the zero-shot classifier's weights).
        logit_scale: the classifier's scale of cosines (100 for OpenAI CLIP configs).
        class_names: ID class names.
        templates: the classifier's ID prompt templates.
        backbone: the :class:`~mmood.models.backbones.OpenCLIPBackbone` (text tower for mining, own templates), or
            None when only features and prototypes are at hand.
        cache: a :class:`~mmood.cache.CacheStore` for text embeddings and negatives, or None.
        work_dir: where heads may write readable records (mined negatives), or None.
        batch_size: prompts per text forward.
        ensemble: how the classifier combines a template ensemble (``'unit_mean'``, ``'raw_mean'``); a head's own
            ``templates`` are combined the same way.
        extra: what the classifier lends its heads, by name (:meth:`OODModel.lent_to_heads`: PLP's trained
            ``probe`` and ``pseudo_labels``, NPOS's ``outlier_mlp``, CLIPN's ``no_text`` tower); read with :meth:`lent`.
    """
    id_text: Tensor
    logit_scale: float = 100.0
    class_names: Optional[List[str]] = None
    templates: Optional[List[str]] = None
    backbone: Any = None
    cache: Any = None
    work_dir: Optional[str] = None
    batch_size: int = 1000
    ensemble: str = 'unit_mean'
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.id_text.device

    @property
    def num_classes(self) -> int:
        return int(self.id_text.shape[0])

    def lent(self, name: str, who: str, needs: str) -> Any:
        """``extra[name]``, what the classifier declared it lends its heads, or a clear error naming the head
        (``who``) and the kind of model it needs (``needs``)."""
        if name not in self.extra:
            raise ConfigError(f'{who} reads the {name} of {needs}; this classifier lends its heads '
                              f'{sorted(self.extra) or "nothing"}')
        return self.extra[name]

    def require_backbone(self, who: str) -> Any:
        """The text tower, or a clear error naming the head that needs it."""
        if self.backbone is None:
            raise ConfigError(f'{who} needs the CLIP text tower: prepare it from a classifier '
                              f'(CLIPOODClassifier.head_context()), not from features alone.')
        return self.backbone

    def prototypes(self, templates: Union[str, Sequence[str]], ensemble: Optional[str] = None) -> Tensor:
        """ID class prototypes for other templates (encoded with the text tower, cached like the classifier's),
        combined by ``ensemble`` (None: the classifier's rule)."""
        from ...text import build_text_classifier_cached, resolve_templates
        templates = resolve_templates(templates)
        ensemble = ensemble or self.ensemble
        if self.templates is not None and list(templates) == list(self.templates) and ensemble == self.ensemble:
            return self.id_text
        backbone = self.require_backbone(f'Prototypes with templates {templates}')
        if self.class_names is None:
            raise ConfigError('Prototypes with other templates need the class names in the head context')
        return build_text_classifier_cached(backbone, self.class_names, templates, self.cache, self.batch_size,
                                            ensemble=ensemble).to(self.device)


class BaseOODHead(BaseModule):
    """Base of every OOD detector: features in, named scores out, **higher = more in-distribution**.

    Subclasses set :attr:`score_names` (in their ``__init__``; the first is the head's primary score), implement
    :meth:`forward`, and override :meth:`prepare` / :meth:`fit` when they need text or ID-train state.

    Args:
        templates: ID prompt templates for this head's own prototypes (a named set such as ``'plp5'`` or a list);
            None uses the classifier's prototypes.
        prefix: prepended to every score name (two heads of one classifier must not share a name).
        init_cfg: mmengine init config.
    """

    #: how the head's own ``templates`` combine (``'unit_mean'`` / ``'raw_mean'``); None: the classifier's rule.
    template_ensemble: Optional[str] = None
    #: feature kinds the head reads (``global``, ``local``, ``pre_proj``).
    feature_kinds: Tuple[str, ...] = ('global', )
    #: whether :meth:`fit` on ID-train features must run before scoring.
    requires_fit: bool = False
    #: whether the head reads the text side (prototypes, negative labels, pseudo-labels): an image-only backbone
    #: (:attr:`~mmood.models.backbones.BaseOODBackbone.has_text` False) refuses such a head when it is built.
    needs_text: bool = True
    #: whether the head scores a whole stream of samples at once (the score of one sample depends on others).
    set_level: bool = False
    #: the largest intermediate a head forms per chunk of rows, in elements (rows x columns; 2**20 float32 = 4 MB,
    #: cache-sized): the exp / logsumexp passes after a matrix product then read it from cache, not from memory...
    chunk_elements: int = 2**20
    #: ... but never fewer rows than this per chunk: a matrix product of fewer rows runs below the machine's peak
    #: (measured on 2 CPU cores: 95 x 512 x 10k products cost 1.6x the one large product, 768 rows ~1.0x).
    chunk_min_rows: int = 768
    #: option dicts the head takes (name -> defaults, e.g. NegLabel's ``mining``): a dict given in a config is
    #: merged over them; ``--cfg-options model.head.<name>.<key>=...`` is checked against their keys.
    option_groups: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    #: declared ranges of the numeric options (``'tau': Range(gt=0)``; a dotted name reaches a key of an option
    #: dict, ``'memory.gamma'``): checked when a head is built, every value outside its range refused in one message
    #: (:func:`mmood.utils.check_ranges`). A subclass extends its parent's (``dict(Parent.option_ranges, ...)``).
    option_ranges: Mapping[str, Range] = MappingProxyType({})
    #: whether :meth:`fit` has run (heads with :attr:`requires_fit` set it).
    fitted: bool = False
    #: the seed of a set-level head's stream order (None: dataset order; see :func:`score_pairs`).
    stream_seed: Optional[int] = None
    #: the attributes :meth:`fit` sets (tensors, plain numbers, or dicts / lists of them): what :meth:`fit_state`
    #: returns and :meth:`load_fit_state` restores (the cached fit, :func:`mmood.engine.fitting.fit_heads_cached`).
    fit_state_names: Tuple[str, ...] = ()
    #: constructor options that do not change what :meth:`fit` computes (only how the head scores or names its
    #: scores): left out of :meth:`fit_identity`, so changing them reuses a cached fit. A subclass extends its
    #: parent's (``BaseOODHead.fit_independent_options + ('chunk_size', )``); when in doubt, leave an option out.
    fit_independent_options: Tuple[str, ...] = ('prefix', 'init_cfg')

    def __init_subclass__(cls, **kwargs):
        """Wrap a subclass's ``__init__`` so that the options of the class being built (its signature's defaults,
        the option dicts merged over :attr:`option_groups`) are checked against :attr:`option_ranges` first."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get('__init__')
        if init is None:
            return

        @functools.wraps(init)
        def checked_init(self, *args, **kw):
            building = type(self).__init__ is checked_init  # the class being built (not a parent's via super())
            if building:
                options = type(self).given_options(args, kw)
                check_ranges(type(self).__name__, type(self).option_ranges, options)
            init(self, *args, **kw)
            if building:  # the options the head was built with (part of its fit identity)
                self.__dict__['_build_options'] = options

        cls.__init__ = checked_init

    @classmethod
    def given_options(cls, args: tuple = (), kwargs: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The options a head of this class is built with: every ``__init__`` default over the class hierarchy,
        then ``args`` / ``kwargs`` as given, each option dict merged over its :attr:`option_groups` defaults."""
        values: Dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            init = klass.__dict__.get('__init__')
            init = getattr(init, '__wrapped__', init)
            if init is None or not issubclass(klass, BaseOODHead):
                continue
            values.update((n, p.default) for n, p in inspect.signature(init).parameters.items()
                          if p.default is not p.empty)
        init = inspect.unwrap(cls.__init__)
        params = [n for n, p in inspect.signature(init).parameters.items() if n != 'self'
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        values.update(zip(params, args))
        values.update(kwargs or {})
        for group, defaults in cls.option_groups.items():
            values[group] = dict(defaults, **dict(values.get(group) or {}))
        return values

    def __init__(self, templates: Optional[Union[str, Sequence[str]]] = None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.templates = templates
        self.prefix = str(prefix)
        self._score_names: Tuple[str, ...] = ()
        self._replicates: Dict[str, List[str]] = {}
        self.register_buffer('id_text', torch.zeros(0), persistent=False)
        self.logit_scale = 100.0
        self.prepared = False

    def borrow(self, name: str, module: Any) -> None:
        """Hold ``module`` (a part of the classifier: the model itself, its probe, text tower or outlier MLP) as the
        plain attribute ``name``, not as a submodule: it stays out of the head's ``state_dict`` (no second copy in
        checkpoints), ``.to()`` and ``.train()``, which the classifier already applies to it."""
        self.__dict__[name] = module

    # ------------------------------------------------------------------ names
    @property
    def score_names(self) -> Tuple[str, ...]:
        """Names of the scores :meth:`forward` returns (prefixed), primary first."""
        return tuple(self.prefix + n for n in self._score_names)

    @score_names.setter
    def score_names(self, names: Sequence[str]) -> None:
        names = tuple(str(n) for n in names)
        if not names or len(set(names)) != len(names):
            raise ConfigError(f'{type(self).__name__}: score names must be unique and non-empty, got {names}')
        self._score_names = names

    @property
    def replicates(self) -> Dict[str, List[str]]:
        """Score names that are repeated runs of one score (e.g. one per stream seed): base name -> names (prefixed,
        as in :attr:`score_names`); the metric adds their mean ± std. Empty by default; a head sets it in its
        ``__init__`` (unprefixed names, like :attr:`score_names`) or overrides this property."""
        return {self.prefix + b: [self.prefix + n for n in names]
                for b, names in self._replicates.items()}

    @replicates.setter
    def replicates(self, replicates: Dict[str, Sequence[str]]) -> None:
        self._replicates = {str(b): [str(n) for n in names] for b, names in dict(replicates or {}).items()}
        if any(not names for names in self._replicates.values()):
            raise ConfigError(f'{type(self).__name__}: every replicate group needs score names, got {replicates}')

    @property
    def primary_score(self) -> str:
        """The head's main score (the first of :attr:`score_names`)."""
        return self.score_names[0]

    def named(self, **scores: Tensor) -> Dict[str, Tensor]:
        """``{prefix + name: score}`` in :attr:`score_names` order (helper for :meth:`forward`)."""
        return {self.prefix + n: scores[n] for n in self._score_names}

    # ------------------------------------------------------------------ life cycle
    def prepare(self, ctx: HeadContext) -> 'BaseOODHead':
        """Take the ID prototypes (the head's own ``templates`` if set) and the logit scale from the context.

        Subclasses that need more (negatives, a probe) call ``super().prepare(ctx)`` first.
        """
        id_text = ctx.id_text if self.templates is None else ctx.prototypes(self.templates, self.template_ensemble)
        self.id_text = id_text.to(ctx.device)
        self.logit_scale = float(ctx.logit_scale)
        self.prepared = True
        return self

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'BaseOODHead':
        """Fit ID-train statistics (heads with :attr:`requires_fit`); ``feats``: kind -> (N, ...) tensor."""
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        """Named scores ``{name: (B,)}`` of a batch (or, for :attr:`set_level` heads, of a whole stream)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fitted state
    @property
    def build_options(self) -> Dict[str, Any]:
        """The options this head was built with (:meth:`given_options` of its constructor call)."""
        found = self.__dict__.get('_build_options')
        return dict(found) if found is not None else type(self).given_options()

    def fit_reads(self) -> Dict[str, Any]:
        """The prepared state :meth:`fit` reads besides the ID-train features and labels: name -> tensor, number,
        string, module (its ``state_dict``) or a dict / list of them. The ID prototypes by default; heads that read
        more (a linear view's ``W``, ``b`` and projection, a probe, a logit scale) add it."""
        return dict(id_text=self.id_text)

    def fit_identity(self) -> Dict[str, Any]:
        """What the fit depends on besides the ID-train features (a part of the cached fit's key): the head's class,
        the options it was built with (less :attr:`fit_independent_options`) and a digest of :meth:`fit_reads`.
        Call it on a prepared head."""
        self._check_prepared()
        options = {k: v for k, v in self.build_options.items() if k not in self.fit_independent_options}
        return dict(head=type(self).__name__, options=options, reads=state_digest(self.fit_reads()))

    def fit_state(self) -> Dict[str, Any]:
        """The fitted statistics, ``{name: value}`` of :attr:`fit_state_names` (the objects the head holds)."""
        if not self.fitted:
            raise RuntimeError(f'{type(self).__name__}: no fitted state before fit()')
        return {name: getattr(self, name) for name in self.fit_state_names}

    def load_fit_state(self, state: Mapping[str, Any], device: Optional[Any] = None) -> 'BaseOODHead':
        """Restore :meth:`fit_state` (tensors moved to ``device``, default the prototypes' device) and mark the head
        fitted: it then scores exactly as the head whose state it was."""
        missing = [n for n in self.fit_state_names if n not in state]
        if not self.fit_state_names:
            raise KeyError(f'{type(self).__name__} declares no fit_state_names: its fit cannot be restored')
        if missing:
            raise KeyError(f'{type(self).__name__}: the fitted state lacks {missing}')
        device = self.id_text.device if device is None else device
        for name in self.fit_state_names:
            setattr(self, name, _to_device(state[name], device))
        self.fitted = True
        return self

    # ------------------------------------------------------------------ helpers
    def chunked(self, feats: Features, width: int, fn) -> Dict[str, Tensor]:
        """``fn(feats)`` on row chunks of ``feats`` with about :attr:`chunk_elements` / ``width`` rows each, at least
        :attr:`chunk_min_rows` (``width``: the columns of the largest intermediate per row, e.g. the number of text
        prototypes); outputs concatenated.

        Every row's score is computed from that row alone, so the chunking does not change which inputs a score
        sees; ``tools/test.py`` and ``tools/score.py`` call heads on the same batches and chunk them alike.
        """
        num = next(iter(feats.values())).shape[0]
        rows = max(int(self.chunk_min_rows), int(self.chunk_elements) // max(1, int(width)), 1)
        if num <= rows:
            return fn(feats)
        parts = [fn({k: v[s:s + rows] for k, v in feats.items()}) for s in range(0, num, rows)]
        return {name: torch.cat([p[name] for p in parts]) for name in parts[0]}

    def _check_prepared(self) -> None:
        if not self.prepared:
            raise RuntimeError(f'{type(self).__name__}.prepare(ctx) must run before scoring (the classifier, '
                               f'tools/test.py and tools/score.py do it).')

    @staticmethod
    def kind(feats: Features, kind: str, who: str = 'This head') -> Tensor:
        """``feats[kind]`` or a clear error naming what is there."""
        if kind not in feats:
            raise KeyError(f'{who} needs "{kind}" features; got {sorted(feats)}')
        return feats[kind]

    # ------------------------------------------------------------------ declarations
    def text_inputs(self) -> List[Tuple[str, Any]]:
        """The text files this head reads besides the class names (a word corpus, ready label files), declared for
        the checks before a run (``tools/verify_data.py``, the reproduce checks): ``(what, check)`` pairs, where
        ``check()`` returns ``(lines, problems)`` -- what was found and what a run would stop on -- without encoding
        anything. None by default."""
        return []


def _to_device(value: Any, device: Any) -> Any:
    """``value`` with every tensor in it (nested dicts, lists, tuples) moved to ``device``."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, Mapping):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    return value


def tensor_digest(t: Tensor) -> str:
    """SHA-256 (24 hex digits) of a tensor's dtype, shape and bytes (on any device)."""
    t = t.detach()
    h = hashlib.sha256(f'{t.dtype}|{tuple(t.shape)}|'.encode())
    flat = t.to('cpu').contiguous().reshape(-1)
    h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b'')
    return h.hexdigest()[:24]


def state_digest(obj: Any) -> Any:
    """A JSON-able digest of prepared state: tensors by :func:`tensor_digest`, modules by their ``state_dict``, dicts
    and lists element-wise, plain values as they are (anything else by its ``repr``)."""
    if isinstance(obj, Tensor):
        return tensor_digest(obj)
    if isinstance(obj, torch.nn.Module):
        return dict(module=type(obj).__name__, state=state_digest(dict(obj.state_dict())))
    if isinstance(obj, Mapping):
        return {str(k): state_digest(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [state_digest(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)
