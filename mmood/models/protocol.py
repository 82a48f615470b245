"""The declared protocol of an OOD model: what the engine, the feature cache, the metric's feeders and the tools may
ask of a model, and nothing else.

Every OOD model of mmood derives from :class:`OODModel` (through :class:`~mmood.models.CLIPOODClassifier`), and
the rest of the package reads these declarations instead of probing the model with ``getattr``/``hasattr``: a model
that does not derive from it is not an OOD model (the hooks leave it alone, the tools refuse it with a message), and
a misspelt declaration is an ``AttributeError``, not a silent default. The shape follows pytorch-ood's ``Detector``
(``fit`` / ``predict_features``) and OpenOOD's ``BasePostprocessor`` (``setup`` / ``postprocess``): **prepare** (text
side), **fit** (ID-train statistics, only for heads that need them), **score** (named scores of a batch of features,
higher = more in-distribution), then **score sets** (set-level scores over a whole test stream).

===================================  ==============================================================  ===============
declaration                          meaning                                                         default
===================================  ==============================================================  ===============
``score_names``                      every named score, the primary one first                        (abstract)
``primary_score``                    the score under the metric's plain keys                         (constructor)
``score_replicates``                 base name -> score names that are repeated runs of one score    ``{}``
``set_level_scores``                 scores computed per (ID, OOD set) pair after the loop           ``[]``
``set_level_feature_kinds``          feature kinds those scores read                                 ``()``
``feature_kinds``                    image feature kinds :meth:`extract_feat` returns                (abstract)
``cached_input_kinds``               what the cached-feature loops serve (PLP: ``pre_proj``)         feature_kinds
``checkpoint_changes_features``      whether a checkpoint can change the image features              ``True``
``checkpoint_changes_cached_inputs`` whether it changes what the cached-feature loops serve          as above
``checkpoint_required_prefixes``     key prefixes a checkpoint of the model must cover               ``()``
``checkpoint_record``                provenance of the checkpoint loaded over the weights            ``None``
``cache_dir``                        the shared cache folder (None: no caching)                      ``None``
``prepare_before_train``             whether :meth:`prepare` runs before training                    ``True``
``steps_per_epoch``                  iterations of one epoch, when the model sets it while preparing ``None``
``scores_need_images``               whether the scores need the images (ODIN), not cached features  ``False``
``auxiliary_dataset``                an image set whose cached features training also reads (TOE)    ``None``
``needs_id_train_init``              training state to compute from the ID-train set first (CIDER)   ``False``
===================================  ==============================================================  ===============

Methods with a default: :meth:`note_checkpoint`, :meth:`feature_checkpoint`, :meth:`cached_input_checkpoint`,
:meth:`check_dataset_classes`, :meth:`heads_to_fit`, :meth:`fit_heads`, :meth:`score_sets`,
:meth:`prepare_cached_training`, :meth:`prepare_auxiliary_features`, :meth:`init_from_id_train`,
:meth:`lent_to_heads`, :meth:`report_notes`, :meth:`config_text_inputs`, :meth:`config_image_inputs`.
Abstract: :meth:`prepare`, :meth:`extract_feat`, :meth:`class_logits`, :meth:`scores_from_features`.
``docs/architecture.md`` shows a worked example.
"""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ['OODModel']


class OODModel(metaclass=ABCMeta):
    """Base of every OOD model (a mixin beside mmengine's ``BaseModel``); see the module docstring for the table of
    declarations. Scores are **higher = more in-distribution**."""

    #: whether a checkpoint loaded over the open_clip weights can change the tower (and so the image features and
    #: the tower's text embeddings); a model whose checkpoints hold only a head sets this to False.
    checkpoint_changes_features: bool = True
    #: key prefixes a checkpoint of this model must cover (what the method trains); none for a zero-shot model.
    checkpoint_required_prefixes: Tuple[str, ...] = ()
    #: provenance of the checkpoint loaded over the weights (path, size, SHA-256, what it loaded), or None.
    checkpoint_record: Optional[Dict[str, Any]] = None
    #: the shared cache folder for text embeddings, negatives and features (None disables caching).
    cache_dir: Optional[str] = None
    #: whether the prepare hook prepares the text side before training (False when the text side trains: CLIPN).
    prepare_before_train: bool = True
    #: iterations of one training epoch, set by a model while it prepares its training (TOE), else None.
    steps_per_epoch: Optional[int] = None
    #: an image dataset config whose cached features the cached-feature training loop hands to
    #: :meth:`prepare_auxiliary_features` before :meth:`prepare_cached_training` (outlier images of TOE's study)
    auxiliary_dataset: Optional[Dict[str, Any]] = None
    #: whether the scores need the images themselves (ODIN's input gradient), so that cached features cannot be
    #: re-scored: the cached-feature scoring path refuses such a model up front.
    scores_need_images: bool = False

    # ------------------------------------------------------------------ scores
    @property
    @abstractmethod
    def score_names(self) -> List[str]:
        """Every named score, the primary one first."""

    primary_score: str  # set by the model's constructor

    @property
    def score_replicates(self) -> Dict[str, List[str]]:
        """Base name -> score names that are repeated runs of one score (the metric adds their mean ± std)."""
        return {}

    @property
    def set_level_scores(self) -> List[str]:
        """Names of the scores computed per (ID, OOD set) pair after the loop (:meth:`score_sets`)."""
        return []

    @property
    def set_level_feature_kinds(self) -> Tuple[str, ...]:
        """Feature kinds :meth:`score_sets` reads (what ``predict`` attaches to each sample for it)."""
        return ()

    # ------------------------------------------------------------------ features and their cache
    @property
    @abstractmethod
    def feature_kinds(self) -> Tuple[str, ...]:
        """Image feature kinds :meth:`extract_feat` returns, ``global`` first."""

    @property
    def cached_input_kinds(self) -> Tuple[str, ...]:
        """What the cached-feature loops serve to this model (default: :attr:`feature_kinds`)."""
        return tuple(self.feature_kinds)

    @property
    def checkpoint_changes_cached_inputs(self) -> bool:
        """Whether a checkpoint changes :attr:`cached_input_kinds` (default: :attr:`checkpoint_changes_features`)."""
        return self.checkpoint_changes_features

    def feature_checkpoint(self, checkpoint: Optional[str]) -> Optional[str]:
        """The checkpoint that is part of the image features' identity: ``checkpoint``, or None when a checkpoint of
        this model cannot change them (the one place this decision is taken)."""
        return checkpoint if self.checkpoint_changes_features else None

    def cached_input_checkpoint(self, checkpoint: Optional[str]) -> Optional[str]:
        """As :meth:`feature_checkpoint`, for what the cached-feature loops serve."""
        return checkpoint if self.checkpoint_changes_cached_inputs else None

    def note_checkpoint(self, checkpoint: Optional[str]) -> None:
        """Tell the model which checkpoint was loaded on top of its weights (part of its text-cache keys)."""

    # ------------------------------------------------------------------ life cycle
    @abstractmethod
    def prepare(self, work_dir: Optional[str] = None, force: bool = False, checkpoint: Optional[str] = None) -> None:
        """Build the text side (ID prototypes, mined negatives, ...); once, idempotent."""

    def check_dataset_classes(self, classes: Optional[Sequence[str]], where: str = 'the test data') -> None:
        """Refuse test data whose classes are not the model's (default: accept)."""

    def heads_to_fit(self) -> list:
        """Heads that need ID-train statistics and do not have them yet (default: none)."""
        return []

    def fit_heads(self, feats: Dict[str, Any], labels: Any = None) -> None:
        """Fit :meth:`heads_to_fit` on ID-train features (kind -> (N, ...)) and labels."""

    def prepare_cached_training(self, train_set: Any, cache: Any = None, work_dir: Optional[str] = None,
                                root_dir: Optional[str] = None) -> Any:
        """Before training on cached features: fit what the model needs on the cached ID-train set and return the
        training targets, or None to train on the set's own labels (default)."""
        return None

    @property
    def needs_id_train_init(self) -> bool:
        """Whether training needs state computed from the ID-train set first (:meth:`init_from_id_train`, called by
        :class:`~mmood.engine.hooks.IDTrainInitHook`); False by default and once the state is set (a resumed run)."""
        return False

    def init_from_id_train(self, batches: Any) -> None:
        """Initialise that state from ``batches`` of the ID-train loader (NPOS from scratch: CIDER's prototypes)."""
        raise NotImplementedError(f'{type(self).__name__} declares needs_id_train_init but does not initialise')

    def prepare_auxiliary_features(self, aux_set: Any) -> None:
        """Before :meth:`prepare_cached_training`: the cached features of :attr:`auxiliary_dataset` (a
        :class:`~mmood.features.CachedSet`); only called when the model declares that dataset."""
        raise NotImplementedError(f'{type(self).__name__} declares auxiliary_dataset but does not take its features')

    # ------------------------------------------------------------------ scoring
    @abstractmethod
    def extract_feat(self, inputs: Any) -> Dict[str, Any]:
        """Image features ``{kind: (B, ...)}`` of :attr:`feature_kinds`."""

    @abstractmethod
    def class_logits(self, feats: Dict[str, Any]) -> Any:
        """(B, K) logits of the ID classifier (the predicted class)."""

    @abstractmethod
    def scores_from_features(self, feats: Dict[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        """``(class logits (B, K), {name: (B,)})`` of every sample-level score: the one scoring path for images
        and cached features."""

    def score_sets(self, feats: Dict[str, Any], set_ids: Any) -> Dict[str, Any]:
        """Set-level scores ``{name: (num_ood_sets, N)}`` of a whole test stream in dataset order (default: none)."""
        return {}

    def lent_to_heads(self) -> Dict[str, Any]:
        """What the model lends its heads by name (the head context's ``extra``; e.g. PLP's ``probe``), so a head
        reads a declared part of the model, never probes it (default: nothing)."""
        return {}

    @classmethod
    def config_text_inputs(cls, model_cfg: Dict[str, Any]) -> List[Tuple[str, Any]]:
        """The text files a model of this class reads by its config options, declared for the checks before a run
        (``tools/verify_data.py``, the reproduce checks) without building the model (which would load its weights):
        ``(what, check)`` pairs, ``check()`` returning ``(lines, problems)``. The heads declare theirs
        (:meth:`BaseOODHead.text_inputs`). None by default."""
        return []

    @classmethod
    def config_image_inputs(cls, model_cfg: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
        """Image datasets a model of this class reads by its config options besides the config's data loaders (the
        auxiliary outlier images of TOE's study), declared for ``tools/verify_data.py``: ``(where, dataset config)``
        pairs. None by default."""
        return []

    # ------------------------------------------------------------------ report
    def report_notes(self) -> List[str]:
        """Lines for every report header (default: none)."""
        return []
