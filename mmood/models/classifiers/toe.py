"""TOE: a linear head on frozen CLIP image features, trained with textual outlier exposure.

Paper: S. Park, J. Mok, D. Jung, S. Lee, S. Yoon, "On the Powerfulness of Textual Outlier Exposure for Visual OoD
Detection", NeurIPS 2023, arXiv:2310.16492. See docs/toe.md; deviations TOE-* (docs/reference_deviations.md).

Pipeline (no image is decoded after the one feature extraction):

1. textual outliers at one level (:mod:`mmood.text.outliers`), written once as a plain-text list
   (``<work_dir>/toe_outliers_<level>.txt`` unless ``outliers.file`` names one) and reused by later runs:
   ``word`` (a user list, ``.txt`` or the reference's ``.npy``, or offline the WordNet window of the shipped
   corpus), ``description`` (a classify-by-description JSON, TOE's four templates) or ``caption`` (a captions file,
   filtered by the class-conditional Mahalanobis score, or by the reference's index file);
2. their unit CLIP text embeddings, encoded once into the text cache (keyed by the strings);
3. a :class:`~mmood.models.heads.LinearProbeHead` ``f(z) = W z + b`` on the **raw** projected image features
   ``z = x W_proj`` (``x``: cached ``pre_proj`` rows; ``project=True``, no z-score) trained with
   :class:`~mmood.models.losses.OutlierExposureLoss`: ``CE(f(z), y) + λ · CE(f(t'), uniform)`` with
   ``t' = normalize(normalize(t) + ε)``, ``ε ~ N(0, 0.016 I)`` drawn afresh every step;
4. scores of the head's logits, **higher = more ID**: ``toe_energy`` (primary, TOE's ``logsumexp``),
   ``toe_msp``, ``toe_maxlogit``.

Outlier batches (32 strings, TOE's hard-coded text batch) come from a counter-based generator: step ``s`` of rank
``r`` reads batch ``b = s·world + r`` of the outlier sequence; epoch ``b // n_b`` is a seeded permutation of all
outliers cut into ``n_b = ⌈N / 32⌉`` batches (the last one short, as the reference's ``zip``), and the noise of
batch ``b`` comes from a generator seeded with ``(seed, b)``. The generator's state is the step counter
``outlier_step``, a buffer saved in every checkpoint, so a resumed run draws what an uninterrupted one would. An
epoch is ``⌈n_b / world⌉`` iterations (``model.steps_per_epoch``; ``CachedFeatureTrainLoop(epochs=100)``).
"""
import hashlib
import logging
import math
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from torch import Tensor

from ...cache import CacheStore, file_sha256, hash_strings, make_key
from ...text import encode_prompts_cached, load_corpus
from ...text import outliers as textual
from ...text.class_names import resolve_path
from ...utils import compute_on_main
from ...utils.errors import ConfigError, UserError
from ..losses import add_text_noise
from .plp import LinearProbeClassifier, batch_labels

__all__ = ['TOEClassifier', 'OUTLIER_OPTIONS', 'DECODER_OPTIONS', 'WORD_SOURCES']

#: the options of ``TOEClassifier(outliers=dict(...))`` and their defaults
OUTLIER_OPTIONS: Dict[str, Any] = dict(
    level='description',  # 'word' | 'description' | 'caption'
    source=None,  # word: .txt/.npy list (None: WordNet window); description: JSON; caption: captions .txt/.npy
    file=None,  # the written list (None: <work_dir>/toe_outliers_<level>.txt)
    allow_pickle=False,  # read the reference's object .npy files (pickle: trusted files only)
    fix_strip=False,  # description: remove the prefix as a prefix and drop duplicates (TOE-8 fixed)
    corpus='txtfiles/neglabel_corpus',  # word, no source: candidate nouns
    quantile=0.95,  # word, no source: quantile of the similarity to the ID prompts (NegLabel's)
    window=(85.0, 95.0),  # word, no source: kept percentile window of those quantiles
    debug_expansion=False,  # word: + each prompt's last word in TOE's 4 templates (the reference's --debug), 5N
    index_file=None,  # caption: the reference's kept-caption indices (skips the filter)
    keep=0.15,  # caption: fraction kept (farthest from ID)
    per_class=250,  # caption: ID-train images per class for the class means
    filter_backbone=None,  # caption: tower of the filter (None: this model's; TOE: ViT-B-32 / openai)
    word_source=None,  # word: 'list' (source), 'wordnet_window' (mmood's substitute), 'decoder'; None: from source
    word_template=textual.WORD_TEMPLATE,  # word: the prompt of every word
    decoder=None,  # word_source='decoder': dict(model=TOEWordDecoder options, checkpoint=..., topk, rank_slice, ...)
)

#: the options of ``outliers.decoder`` (TOE's word decoder, docs/toe.md) and their defaults
DECODER_OPTIONS: Dict[str, Any] = dict(
    model=None,  # TOEWordDecoder options without a backbone (the decoder reads this model's cached ID-train features)
    checkpoint=None,  # the decoder's mmood checkpoint (tools/model_converters/toe_decoder_to_mmood.py)
    batch_size=32,  # images per decoder call (matters only with flatten_batch_slice)
    topk=55,  # ranked tokens per image
    rank_slice=(30, 55),  # ranks kept per image (31-55)
    flatten_batch_slice=False,  # True: the reference's slice of the flattened batch (ranks 31-55 of its 1st image)
    drop_class_words=False,  # also drop tokens equal to a word of a class name (the reference: exact names only)
    clip=None,  # the CLIP whose raw image embedding conditions the decoder (None: this model's tower, as TOE does)
)
WORD_SOURCES = ('list', 'wordnet_window', 'decoder')


def _sha256_short(path: str) -> str:
    return file_sha256(path)[:16]


@MODELS.register_module()
class TOEClassifier(LinearProbeClassifier):
    """Frozen open_clip tower + linear head trained with textual outlier exposure (module docstring).

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone` (kept frozen).
        class_names: ID class names (list, file or named list); the labels are the dataset's.
        head: config of :class:`~mmood.models.heads.LinearProbeHead` (default: raw projected features, no
            z-score, ``toe_energy`` primary, ``toe_msp``, ``toe_maxlogit``; ``hidden=(…)`` for an MLP head).
        outliers: the textual outliers (:data:`OUTLIER_OPTIONS`).
        loss: config of :class:`~mmood.models.losses.OutlierExposureLoss` (``weight`` λ = 0.5).
        noise_variance: per-dimension variance of the noise added to the outlier embeddings (0.016).
        outlier_batch_size: outlier strings per step (32, TOE's text batch).
        seed: seed of the outlier permutations and noise draws.
        templates: ID prompts (the WordNet window compares candidates with them).
        kwargs: the other options of :class:`LinearProbeClassifier` (``cache_dir``, ``logit_scale``...).
    """

    #: what a checkpoint must hold: the trained head and the outlier generator's step
    checkpoint_required_prefixes = ('head.', 'class_counts', 'outlier_step')

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]],
                 head: dict = dict(type='LinearProbeHead', feature='pre_proj', project=True, zscore=False,
                                   score='energy', scores=('energy', 'msp', 'maxlogit'), prefix='toe_'),
                 outliers: Optional[dict] = None,
                 loss: dict = dict(type='OutlierExposureLoss', weight=0.5),
                 noise_variance: float = 0.016,
                 outlier_batch_size: int = 32,
                 seed: int = 42,
                 templates: Union[str, Sequence[str]] = (textual.WORD_TEMPLATE, ),
                 **kwargs):
        if 'train_labels' in kwargs:
            raise ConfigError('TOE trains on the dataset\'s true labels: train_labels is not a TOEClassifier option')
        super().__init__(backbone=backbone, class_names=class_names, head=head, templates=templates,
                         train_labels='true', loss=loss, **kwargs)
        unknown = sorted(set(outliers or {}) - set(OUTLIER_OPTIONS))
        if unknown:
            raise ConfigError(f'Unknown outliers options {unknown}; valid: {sorted(OUTLIER_OPTIONS)}')
        self.outliers = dict(OUTLIER_OPTIONS, **(outliers or {}))
        unknown = sorted(set(self.outliers['decoder'] or {}) - set(DECODER_OPTIONS))
        if unknown:
            raise ConfigError(f'Unknown outliers.decoder options {unknown}; valid: {sorted(DECODER_OPTIONS)}')
        if self.outliers['word_source'] not in (None, ) + WORD_SOURCES:
            raise ConfigError(f'outliers.word_source must be one of {WORD_SOURCES}, got '
                              f'{self.outliers["word_source"]!r}')
        if self.outliers['level'] not in textual.OUTLIER_LEVELS:
            raise ConfigError(f'outliers.level must be one of {textual.OUTLIER_LEVELS}, '
                              f'got {self.outliers["level"]!r}')
        if not noise_variance >= 0:
            raise ConfigError(f'noise_variance must be >= 0, got {noise_variance}')
        if int(outlier_batch_size) < 1:
            raise ConfigError(f'outlier_batch_size must be positive, got {outlier_batch_size}')
        self.noise_variance = float(noise_variance)
        self.outlier_batch_size = int(outlier_batch_size)
        self.seed = int(seed)
        self.register_buffer('outlier_step', torch.zeros((), dtype=torch.long))
        self.register_buffer('outlier_emb', None, persistent=False)
        self.steps_per_epoch: Optional[int] = None
        self._perm_epoch = None

    # ------------------------------------------------------------------ outlier texts
    def outlier_list_path(self, root_dir: Optional[str]) -> str:
        """Where the outlier list lives: ``outliers.file`` or ``<root_dir>/toe_outliers_<level>.txt``."""
        if self.outliers['file']:
            return str(self.outliers['file'])
        if not root_dir:
            raise ConfigError('TOE needs a folder for its outlier list: set model.outliers.file or run through '
                              'tools/train.py (work_dir)')
        return osp.join(root_dir, f'toe_outliers_{self.outliers["level"]}.txt')

    def outlier_texts(self, root_dir: Optional[str] = None, cache: Optional[CacheStore] = None,
                      train_set: Any = None, force: bool = False) -> List[str]:
        """The outlier strings: read from the list if it exists, else generated (rank 0) and written.

        Args:
            root_dir: the work folder (default place of the list).
            cache: the shared cache (text embeddings of the word candidates and captions).
            train_set: a :class:`~mmood.features.CachedSet` of the ID-train ``pre_proj`` features (the caption
                filter's class means with this model's tower); may be a callable returning it.
            force: generate again even if the list exists.
        """
        path = self.outlier_list_path(root_dir)
        recipe = self.outlier_recipe_digest()
        if osp.isfile(path) and not force:
            made_with = textual.read_outlier_header(path).get('recipe_sha256')
            if made_with is not None and made_with != recipe:
                raise UserError(f'{path} was made with other outlier options, source file, class names or tower '
                                f'than this run\'s (recipe {made_with} != {recipe}): delete it, '
                                f'or write it again with python tools/dataset_converters/make_text_outliers.py CONFIG '
                                f'--force')
            texts = textual.read_outlier_list(path)
            print_log(f'TOE: {len(texts)} {self.outliers["level"]}-level outliers read from {path}',
                      logger='current')
            return texts

        def make():
            texts, header = self._generate(cache, train_set)
            header.update(count=len(texts), unique=len(set(texts)), recipe_sha256=recipe)
            textual.write_outlier_list(path, texts, header)
            return texts

        texts = compute_on_main(make)
        print_log(f'TOE: {len(texts)} {self.outliers["level"]}-level outliers ({len(set(texts))} unique) written '
                  f'to {path}', logger='current', level=logging.INFO)
        return texts

    def outlier_recipe_digest(self) -> str:
        """What the outlier list depends on, hashed: the options of its level, the input files' contents, the ID
        class names and prompts, and the tower that embeds them (word window, caption filter). A list written
        under another recipe is refused instead of silently reused."""
        opts = self.outliers
        parts = dict(level=opts['level'], class_names=hash_strings(self.class_names))
        for key in ('source', 'index_file'):
            if opts[key]:
                path = resolve_path(str(opts[key]))
                parts[key] = file_sha256(path) if osp.isfile(path) else f'missing: {opts[key]}'
        if opts['level'] == 'word' and self.word_source == 'decoder':
            dec = self.decoder_options
            path = resolve_path(str(dec['checkpoint'] or ''))
            parts.update(word_source='decoder', tower=self.backbone.identity if dec['clip'] is None else None,
                         decoder=dict(dec, checkpoint=file_sha256(path) if osp.isfile(path) else 'missing'))
        elif opts['level'] == 'word' and not opts['source']:
            parts.update(corpus=str(opts['corpus']), quantile=float(opts['quantile']),
                         window=[float(w) for w in opts['window']], templates=list(self.templates),
                         tower=self.backbone.text_identity)
        if opts['level'] == 'word' and opts['debug_expansion']:  # off: the key every earlier list was made with
            parts.update(debug_expansion=True)
        if opts['level'] == 'word' and opts['word_template'] != textual.WORD_TEMPLATE:
            parts.update(word_template=opts['word_template'])
        if opts['level'] == 'description':
            parts.update(fix_strip=bool(opts['fix_strip']))
        if opts['level'] == 'caption' and not opts['index_file']:
            parts.update(keep=float(opts['keep']), per_class=int(opts['per_class']),
                         tower=self.backbone.identity if opts['filter_backbone'] is None
                         else dict(opts['filter_backbone']))
        return make_key(parts)[:16]

    def _source(self, what: str) -> str:
        source = self.outliers['source']
        if not source:
            raise ConfigError(f'TOE {self.outliers["level"]}-level outliers need model.outliers.source: {what}')
        path = resolve_path(str(source))
        if not osp.isfile(path):
            raise UserError(f'TOE outlier source not found: {source} ({what}; model.outliers.source)')
        return path

    @property
    def word_source(self) -> str:
        """Where word-level outliers come from: ``outliers.word_source``, else ``'list'`` with a source file and
        ``'wordnet_window'`` (mmood's decoder-free substitute) without one."""
        source = self.outliers['word_source']
        if source is None:
            return 'list' if self.outliers['source'] else 'wordnet_window'
        if source == 'wordnet_window' and self.outliers['source']:
            raise ConfigError(f'outliers.source={self.outliers["source"]!r} is a word list, but outliers.word_source '
                              'is "wordnet_window": set model.outliers.word_source=list to read the list')
        if source == 'list' and not self.outliers['source']:
            raise ConfigError('outliers.word_source="list" needs outliers.source (a .txt list or the reference\'s '
                              '.npy)')
        return source

    @property
    def decoder_options(self) -> Dict[str, Any]:
        """``outliers.decoder`` with its defaults (:data:`DECODER_OPTIONS`)."""
        return dict(DECODER_OPTIONS, **(self.outliers['decoder'] or {}))

    def _decoder_words(self, train_set: Any):
        """Words of TOE's decoder from this model's ID-train image embeddings (:mod:`mmood.text.decoder_words`)."""
        from ...text.decoder_words import DecodedWordPool
        dec = self.decoder_options
        if not dec['model'] or not dec['checkpoint']:
            raise ConfigError('outliers.word_source="decoder" needs outliers.decoder.model (TOEWordDecoder options) '
                              'and outliers.decoder.checkpoint (an mmood checkpoint of the decoder)')
        train_set = train_set() if callable(train_set) else train_set
        if train_set is None:
            raise ConfigError('The word decoder reads the ID-train features (run tools/train.py, or '
                              'tools/dataset_converters/make_text_outliers.py, which extract them)')
        path = resolve_path(str(dec['checkpoint']))
        if not osp.isfile(path):
            raise UserError(f'word decoder checkpoint not found: {dec["checkpoint"]} '
                            '(model.outliers.decoder.checkpoint)')
        model_cfg = dict(dec['model'])
        model_cfg.setdefault('type', 'TOEWordDecoder')
        model_cfg['backbone'] = None  # the embeddings are this model's cached features: no second tower
        decoder = MODELS.build(model_cfg).eval()
        from ...utils import load_checkpoint_file
        state = load_checkpoint_file(path)  # a converted release or a checkpoint of tools/train.py
        state = state.get('state_dict', state)
        weights = {k[len('decoder.'):]: v for k, v in state.items() if k.startswith('decoder.')}
        if not weights:
            raise UserError(f'{path} holds no decoder.* weights: convert the reference\'s file with '
                            'tools/model_converters/toe_decoder_to_mmood.py')
        decoder.decoder.load_state_dict(weights, strict=True)
        if dec['clip'] is None:  # this model's tower: the cached features times the projection
            proj = self.projection
            feats = train_set.feats[self.feature_kind]

            def embeddings(start: int, stop: int) -> Tensor:
                x = torch.from_numpy(np.array(feats[start:stop], dtype=np.float32))
                return x @ proj.cpu() if proj is not None else x  # the raw (unnormalised) image embedding
            total = len(feats)
        else:  # another CLIP (e.g. the decoder's training CLIP): its raw embeddings of the ID-train images
            tower = MODELS.build(dict(dec['clip'], frozen=True))
            clip_emb = self._encode_train_images(tower, train_set, np.arange(len(train_set.labels)), kind='embed')
            ident = tower.identity

            def embeddings(start: int, stop: int) -> Tensor:
                return clip_emb[start:stop]
            total = len(clip_emb)
        pool = DecodedWordPool(dec['topk'], tuple(dec['rank_slice']), bool(dec['flatten_batch_slice']))
        size = int(dec['batch_size'])
        with torch.no_grad():
            for start in range(0, total, size):
                pool.add(decoder.first_step_logits(embeddings(start, start + size)))
        words = pool.words(decoder.decode_token, self.class_names, bool(dec['drop_class_words']))
        which = 'decoder.clip'
        if dec['clip'] is None:
            ident, which = self.backbone.identity, 'this model\'s tower'
        info = dict(source=f'word decoder {path}', source_sha256=_sha256_short(path), images=pool.images,
                    conditioning_clip=f'{ident.get("model_name")} / {ident.get("pretrained")} ({which}, '
                    'unnormalised ID-train image embeddings)',
                    tokens=len(pool.ids), rule=f'one decoder step from <s> per ID-train image, ranks '
                    f'{dec["rank_slice"][0] + 1}-{dec["rank_slice"][1]} of the top {dec["topk"]}'
                    + (' (of the flattened batch, as the reference)' if dec['flatten_batch_slice'] else ' per image')
                    + ', non-semantic words and ID names removed, sorted')
        return words, info

    def _generate(self, cache: Optional[CacheStore], train_set: Any):
        opts = self.outliers
        level = opts['level']
        header = dict(made_by='mmood TOE outliers (mmood.text.outliers)', level=level)
        if level == 'word' and self.word_source == 'decoder':
            words, info = self._decoder_words(train_set)
            header.update(info, word_source='decoder', debug_expansion=bool(opts['debug_expansion']))
            return textual.word_outliers(words, self.class_names, template=opts['word_template'],
                                         debug_expansion=bool(opts['debug_expansion'])), header
        if level == 'word' and self.word_source == 'list':
            path = self._source('a .txt list of words or prompts, or the reference\'s .npy')
            words = textual.read_outlier_list(path, allow_pickle=opts['allow_pickle'])
            header.update(source=path, source_sha256=_sha256_short(path), rule='listed words, ID names removed',
                          word_source='list', debug_expansion=bool(opts['debug_expansion']))
            return textual.word_outliers(words, self.class_names, template=opts['word_template'],
                                         debug_expansion=bool(opts['debug_expansion'])), header
        if level == 'word':
            nouns, _ = load_corpus(opts['corpus'])
            self.prepare()
            cand = encode_prompts_cached(self.backbone, nouns, textual.WORD_TEMPLATE, cache, self.text_batch_size,
                                         desc='encoding corpus nouns')
            keep = textual.wordnet_window(cand, self.id_text.cpu().float(), opts['quantile'], tuple(opts['window']))
            header.update(source=opts['corpus'], rule=f'WordNet nouns whose {opts["quantile"]}-quantile similarity to '
                          f'the ID prompts lies in percentiles {tuple(opts["window"])}, ID names removed',
                          candidates=len(nouns), word_source='wordnet_window (a substitute for the decoder)',
                          debug_expansion=bool(opts['debug_expansion']))
            return textual.word_outliers([nouns[i] for i in keep.tolist()], self.class_names,
                                         template=opts['word_template'],
                                         debug_expansion=bool(opts['debug_expansion'])), header
        if level == 'description':
            import json
            path = self._source('a classify-by-description JSON (class name -> descriptions)')
            with open(path, encoding='utf-8') as f:
                descriptors = json.load(f)
            header.update(source=path, source_sha256=_sha256_short(path), fix_strip=bool(opts['fix_strip']))
            return textual.description_outliers(descriptors, fix_strip=bool(opts['fix_strip'])), header
        path = self._source('a captions file, one caption per image (.txt, or the reference\'s .npy)')
        # keep_blank: row i stays the caption of image i (index files count rows)
        captions = [c.strip() for c in textual.read_outlier_list(path, opts['allow_pickle'], keep_blank=True)]
        header.update(source=path, source_sha256=_sha256_short(path))
        if opts['index_file']:
            index = np.load(resolve_path(str(opts['index_file'])), allow_pickle=False).astype(np.int64).reshape(-1)
            if index.size and (index.min() < 0 or index.max() >= len(captions)):
                raise UserError(f'{opts["index_file"]}: indices outside [0, {len(captions)}) of {path}')
            header.update(rule=f'captions kept by the index file {opts["index_file"]}')
            kept = index
        else:
            rows = np.array([i for i, c in enumerate(captions) if c], dtype=np.int64)  # blank captions: not scored
            kept = rows[self._caption_filter([captions[i] for i in rows], cache, train_set).numpy()]
            header.update(rule=f'class-conditional Mahalanobis filter, farthest {opts["keep"]:.0%} kept, class means '
                          f'of <= {opts["per_class"]} ID-train images per class',
                          filter_tower=self._filter_tower_name())
        # the reference's list(set(...)): duplicates dropped (here in first-seen order, deterministic); blank
        # captions dropped after the selection, so the rows still match a reference index file
        return list(dict.fromkeys(captions[i] for i in sorted(kept.tolist()) if captions[i])), header

    def _filter_tower_name(self) -> str:
        cfg = self.outliers['filter_backbone']
        return 'this model' if cfg is None else f'{cfg.get("model_name")} / {cfg.get("pretrained")}'

    def _caption_filter(self, captions: Sequence[str], cache: Optional[CacheStore], train_set: Any) -> Tensor:
        """Indices of the captions kept by TOE's Mahalanobis filter (TOE-9 fixed)."""
        opts = self.outliers
        train_set = train_set() if callable(train_set) else train_set
        if train_set is None:
            raise ConfigError('The caption filter needs the ID-train features (run tools/train.py, or '
                              'tools/dataset_converters/make_text_outliers.py, which extract them)')
        labels = np.asarray(train_set.labels, dtype=np.int64)
        rows = textual.select_per_class(labels, int(opts['per_class']))
        if opts['filter_backbone'] is None:
            tower = self.backbone
            x = torch.from_numpy(np.array(train_set.feats[self.feature_kind][rows], dtype=np.float32))
            with torch.no_grad():
                proj = self.projection
                image = F.normalize(x @ proj.cpu() if proj is not None else x, dim=-1)
        else:
            tower = MODELS.build(dict(opts['filter_backbone'], frozen=True))
            image = self._encode_train_images(tower, train_set, rows)
        caption_emb = encode_prompts_cached(tower, captions, '{}', cache, self.text_batch_size,
                                            desc='encoding captions')
        return textual.caption_filter(caption_emb, image, torch.from_numpy(labels[rows]), self.num_classes,
                                      keep=float(opts['keep']))

    def _encode_train_images(self, tower, train_set: Any, rows: np.ndarray, kind: str = 'global') -> Tensor:
        """Features ``kind`` (``global``: normalised; ``embed``: the raw embedding) of the ID-train images ``rows``
        under another tower (the caption filter's, the word decoder's)."""
        from mmengine.dataset import pseudo_collate
        from mmpretrain.registry import DATASETS
        from tqdm import tqdm
        dataset = DATASETS.build(dict(train_set.source.spec))
        out = []
        with torch.no_grad():
            for s in tqdm(range(0, len(rows), 64), desc='caption filter: ID-train images', unit='batch'):
                batch = pseudo_collate([dataset[int(i)] for i in rows[s:s + 64]])
                images = self.data_preprocessor(batch, False)['inputs']
                out.append(tower.extract_image_features(images, (kind, ))[kind].cpu())
        return torch.cat(out)

    # ------------------------------------------------------------------ training
    @classmethod
    def config_text_inputs(cls, model_cfg: Dict[str, Any]) -> list:
        """The outlier texts' sources of ``model.outliers`` (:func:`~mmood.text.outliers.outlier_source_problems`):
        a list file, the corpus window's files, the captions."""
        if model_cfg.get('outliers') is None:
            return []
        return [('model.outliers', lambda: textual.outlier_source_problems(dict(model_cfg['outliers'])))]

    def prepare_cached_training(self, train_set: Any, cache: Any = None, work_dir: Optional[str] = None,
                                root_dir: Optional[str] = None) -> np.ndarray:
        """The probe's preparation (labels, identity statistics), then the outliers: list, embeddings, epoch."""
        labels = super().prepare_cached_training(train_set, cache, work_dir, root_dir)
        texts = self.outlier_texts(root_dir, cache, train_set)
        if not texts:
            raise UserError(f'TOE: the {self.outliers["level"]}-level outlier list is empty '
                            f'({self.outlier_list_path(root_dir)})')
        self.prepare()
        emb = compute_on_main(lambda: encode_prompts_cached(self.backbone, texts, '{}', cache, self.text_batch_size,
                                                            desc='encoding outlier texts'))
        self.outlier_emb = emb.to(self.class_counts.device)
        world = get_dist_info()[1]
        self.steps_per_epoch = math.ceil(self.num_outlier_batches / world)
        print_log(f'TOE: {len(texts)} outlier texts, {self.num_outlier_batches} batches of '
                  f'{self.outlier_batch_size} per epoch = {self.steps_per_epoch} iterations on {world} process(es); '
                  f'noise variance {self.noise_variance}', logger='current')
        return labels

    @property
    def num_outlier_batches(self) -> int:
        """Outlier batches per epoch, ``⌈N / outlier_batch_size⌉``."""
        return math.ceil(int(self.outlier_emb.shape[0]) / self.outlier_batch_size)

    def _seed(self, *parts: int) -> int:
        digest = hashlib.sha256(repr((self.seed, ) + parts).encode()).digest()
        return int.from_bytes(digest[:8], 'little') >> 1

    def outlier_rows(self, step: int, rank: int = 0, world: int = 1) -> Tuple[Tensor, int]:
        """The outlier embeddings of training step ``step`` on ``rank``, as stored (seeded per-epoch permutations of
        the rows, batch ``j`` of the epoch), and the global batch index."""
        if self.outlier_emb is None:
            raise RuntimeError('TOE has no outlier embeddings: train through tools/train.py (CachedFeatureTrainLoop)')
        num = int(self.outlier_emb.shape[0])
        batch = step * world + rank
        epoch, j = divmod(batch, self.num_outlier_batches)
        if self._perm_epoch is None or self._perm_epoch[0] != epoch:
            gen = torch.Generator().manual_seed(self._seed(0, epoch))
            self._perm_epoch = (epoch, torch.randperm(num, generator=gen))
        index = self._perm_epoch[1][j * self.outlier_batch_size:(j + 1) * self.outlier_batch_size]
        return self.outlier_emb[index.to(self.outlier_emb.device)], batch

    def outlier_batch(self, step: int, rank: int = 0, world: int = 1) -> Tensor:
        """Noisy unit embeddings of the outlier batch of training step ``step`` on ``rank`` (module docstring)."""
        rows, batch = self.outlier_rows(step, rank, world)
        gen = torch.Generator().manual_seed(self._seed(1, batch))
        return add_text_noise(rows, self.noise_variance, generator=gen)

    def loss(self, inputs: Any, data_samples: Any) -> Dict[str, Tensor]:
        """CE of the ID batch + λ · CE-to-uniform of this step's noisy outlier batch; logs the ID accuracy."""
        x = self.extract_feat(inputs)[self.feature_kind]
        labels = batch_labels(data_samples, x.device)
        logits = self.head.logits(x)
        rank, world = get_dist_info()
        outliers = self.outlier_batch(int(self.outlier_step), rank, world)
        self.outlier_step += 1
        losses = self.loss_module(logits, labels, self.head.embedding_logits(outliers))
        with torch.no_grad():
            losses['label_acc'] = (logits.argmax(dim=1) == labels).float().mean()
        return losses

    def report_notes(self) -> List[str]:
        """Lines for run reports: what the head was trained with."""
        notes = super().report_notes()
        if int(self.outlier_step):
            notes.append(f'TOE head trained {int(self.outlier_step)} steps with {self.outliers["level"]}-level textual '
                         f'outliers (noise variance {self.noise_variance}, weight {self.loss_module.weight})')
        return notes
