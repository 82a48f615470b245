"""CLIPN: a CLIP that can say "no" -- a trained "no" text tower beside the frozen CLIP towers.

Paper: H. Wang, Y. Li, H. Yao, X. Li, "CLIPN for Zero-Shot OOD Detection: Teaching CLIP to Say No", ICCV 2023,
arXiv:2308.12213. See docs/clipn.md; deviations CN-* (docs/reference_deviations.md).

* **Model**: the frozen open_clip model (image tower, "yes" text tower, logit scale) and a
  :class:`~mmood.models.backbones.NoTextTower` (a copy of the text tower plus 16 learnable additive prompt offsets,
  zeros at build: the "no" tower equals the yes tower). Only the no tower trains.
* **Training** (``mode='loss'``, image-caption data with the caption in ``data_sample.text``):
  f = image embedding, g = yes embedding, h = no embedding of the caption (a prompt drawn per sample, see
  :meth:`NoTextTower.draw_prompts`; keyed by the training step and the sample index, so the draws are the same under
  any number of processes and after a resume), and :class:`~mmood.models.losses.CLIPNLoss`
  ``0.5 · (L_yes + L_no + L_tso)`` with the model's frozen ``exp(logit_scale)`` (clamped to 100), on the global
  batch under DDP.
* **Evaluation**: the yes prototypes ``W_yes`` (the classifier's ID prototypes, CLIPN's 128 quoted prompts) and the
  no prototypes ``W_no`` (the same prompts through the no tower with the mean prompt) feed
  :class:`~mmood.models.heads.CLIPNHead` (ATD, CTW) and any other head (MSP, MaxLogit, Energy of the yes logits).

**Hand-crafted variant** (``no_prompt_mode='handcrafted'``; the reference's ``hand-crafted/src`` folder, the
released code of "CLIPN with hand-crafted prompts"): the no tower has no prompt offsets; the "no" meaning is written
in the texts. ``prompt_pairs`` gives 128 paired templates (yes: CLIPN's quoted prompts, no: the same with the article
replaced by "no", lines 65+ "with" -> "without"; txtfiles/clipn_prompts_no.txt). In training one pair ``p`` is drawn
per caption (keyed as the learnable prompts' draws); the yes tower encodes ``yes_p(caption)`` (``yes_text='raw'``:
the caption itself, an ablation), the no tower ``no_p(caption)``. At test ``W_yes`` sums the yes column over the
pairs, ``W_no`` the no column (each embedding normalised, the sum normalised). Losses, scores and recipe are those of
the learnable version.

Checkpoints hold the no tower and the prompt-draw step only; the frozen open_clip weights come from
``backbone.pretrained`` (CLIPN trains nothing else), so a checkpoint does not change the image features or the yes
prototypes and shares their cache entries with every other method on the same weights.
``tools/model_converters/clipn_to_mmood.py`` turns the released CLIPN checkpoints into this layout.
"""
import logging
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...cache import CacheStore, hash_strings
from ...text import build_text_classifier_cached, resolve_templates
from ...text.embeddings import TEXT_NAMESPACE
from ...utils import compute_on_main
from ...utils.errors import ConfigError
from ..backbones import NoTextEncoder, NoTextTower
from .clip_contrastive import captions_of
from .clip_ood import CLIPOODClassifier

__all__ = ['CLIPNClassifier', 'NO_PROMPT_MODES']

#: how the "no" tower says no: learnable additive prompt offsets, or hand-written "no" templates
NO_PROMPT_MODES = ('learnable', 'handcrafted')
#: the hand-crafted variant's default pairs: CLIPN's 128 quoted prompts and their "no" versions
DEFAULT_PROMPT_PAIRS = ('clipn', 'clipn_no')


def _pairs(prompt_pairs) -> tuple:
    """(yes templates, no templates) of equal length from ``(yes, no)`` or ``dict(yes=..., no=...)``, each a named
    prompt set, a .txt file (one template per line, taken literally) or a list."""
    if isinstance(prompt_pairs, dict):
        if set(prompt_pairs) != {'yes', 'no'}:
            raise ConfigError(f'prompt_pairs: give dict(yes=..., no=...), got keys {sorted(prompt_pairs)}')
        prompt_pairs = (prompt_pairs['yes'], prompt_pairs['no'])
    if isinstance(prompt_pairs, str) or len(prompt_pairs) != 2:
        raise ConfigError(f'prompt_pairs: give (yes templates, no templates), got {prompt_pairs!r}')
    yes, no = (resolve_templates(t) for t in prompt_pairs)
    if len(yes) != len(no):
        raise ConfigError(f'prompt_pairs: {len(yes)} yes templates but {len(no)} no templates (one pair per line)')
    return yes, no


@MODELS.register_module()
class CLIPNClassifier(CLIPOODClassifier):
    """Frozen open_clip model + trained "no" text tower (see the module docstring).

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone` (kept frozen).
        class_names: ID class names (list or file) for evaluation.
        head: the method's head (default :class:`~mmood.models.heads.CLIPNHead`: ``atd`` primary, ``ctw``).
        extra_heads: more heads on the same features (default: MSP, MaxLogit, Energy of the yes logits).
        templates: ID prompts for both towers (default ``'clipn'``: the 128 quoted prompts of the reference).
        num_prompts: number of learnable "no" prompt offsets (16; ignored by the hand-crafted variant).
        prompt_seed: seed of the per-sample prompt (or prompt-pair) draws in training.
        no_prompt_mode: ``'learnable'`` (CLIPN, ICCV 2023: prompt offsets) or ``'handcrafted'`` (no offsets; the
            paired yes/no templates of ``prompt_pairs`` in training and at test).
        prompt_pairs: the hand-crafted variant's ``(yes, no)`` templates (or ``dict(yes=..., no=...)``), each a
            named set, a .txt file or a list, paired line by line (default CLIPN's 128 pairs:
            ``('clipn', 'clipn_no')``); the yes column replaces ``templates``.
        yes_text: hand-crafted variant, what the frozen yes tower encodes in training: ``'templated'`` (the drawn
            pair's yes template with the caption, as the reference) or ``'raw'`` (the caption).
        loss: config of :class:`~mmood.models.losses.CLIPNLoss`.
        max_logit_scale: clamp of the frozen ``exp(logit_scale)`` used by the loss (CLIPN: 100).
        text_key: data-sample field holding the caption.
        kwargs: the other options of :class:`CLIPOODClassifier` (``logit_scale``: the scale of the yes logits at
            test, 100 as in CLIPN; ``cache_dir``, ``primary_score``, ...).
    """

    #: a checkpoint holds the no tower only (the frozen towers come from the open_clip weights)
    checkpoint_changes_features = False
    #: the no tower changes while training: OODPrepareHook prepares before testing / validating only
    prepare_before_train = False
    #: what a checkpoint must hold: the trained no tower
    checkpoint_required_prefixes = ('no_tower.', )

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]],
                 head: dict = dict(type='CLIPNHead'),
                 extra_heads: Sequence[dict] = (dict(type='LogitHead', scores=('msp', 'maxlogit', 'energy')), ),
                 templates: Union[str, Sequence[str]] = 'clipn',
                 num_prompts: int = 16,
                 prompt_seed: int = 0,
                 no_prompt_mode: str = 'learnable',
                 prompt_pairs: Optional[Union[Sequence, dict]] = None,
                 yes_text: str = 'templated',
                 loss: dict = dict(type='CLIPNLoss'),
                 max_logit_scale: float = 100.0,
                 text_key: str = 'text',
                 **kwargs):
        backbone = dict(backbone)
        if not backbone.get('frozen', True):
            raise ConfigError('CLIPNClassifier keeps the open_clip model frozen and trains its "no" tower; set '
                              'model.backbone.frozen=True')
        if no_prompt_mode not in NO_PROMPT_MODES:
            raise ConfigError(f'no_prompt_mode must be one of {NO_PROMPT_MODES}, got {no_prompt_mode!r}')
        if yes_text not in ('templated', 'raw'):
            raise ConfigError(f"yes_text must be 'templated' or 'raw', got {yes_text!r}")
        self.no_prompt_mode = no_prompt_mode
        self.yes_text = yes_text
        self.no_templates: Optional[List[str]] = None
        if no_prompt_mode == 'handcrafted':
            yes, self.no_templates = _pairs(DEFAULT_PROMPT_PAIRS if prompt_pairs is None else prompt_pairs)
            if templates != 'clipn' and resolve_templates(templates) != yes:
                raise ConfigError('CLIPNClassifier(no_prompt_mode="handcrafted"): the ID prompts are the yes column '
                                  'of `prompt_pairs`; leave `templates` out')
            templates, num_prompts = yes, 0
        elif prompt_pairs is not None:
            raise ConfigError('CLIPNClassifier: `prompt_pairs` belongs to no_prompt_mode="handcrafted"')
        super().__init__(backbone=backbone, class_names=class_names, head=head, extra_heads=extra_heads,
                         templates=templates, **kwargs)
        self.no_tower = NoTextTower(self.backbone.clip, num_prompts=num_prompts, seed=prompt_seed)
        self.loss_module = MODELS.build(loss)
        self.max_logit_scale = float(max_logit_scale)
        self.text_key = text_key
        # training steps taken: with the sample index, the key of each sample's prompt draw (saved, so a resumed
        # run draws what the uninterrupted one would)
        self.register_buffer('prompt_step', torch.zeros((), dtype=torch.long))
        self.register_buffer('no_text', torch.zeros(0), persistent=False)
        self.keep_frozen_tower_out_of_checkpoints()
        self.register_load_state_dict_post_hook(lambda module, keys: module.forget_text())

    # ------------------------------------------------------------------ state
    def forget_text(self) -> None:
        """Drop the prototypes (the no tower changed: training resumed or weights were loaded)."""
        self._prepared = False

    def train(self, mode: bool = True):
        """Switch modes; entering training drops the prototypes (the no tower is about to change)."""
        if mode:
            self.forget_text()
        return super().train(mode)

    def lent_to_heads(self) -> dict:
        """``no_text``: the "no" text tower (:class:`~mmood.models.heads.CLIPNHead` reads its prototypes)."""
        return dict(super().lent_to_heads(), no_text=self.no_text)

    @property
    def handcrafted(self) -> bool:
        return self.no_prompt_mode == 'handcrafted'

    @property
    def no_tower_untrained(self) -> bool:
        """Whether the no tower still equals the yes tower (zero prompt offsets; hand-crafted: unchanged copy)."""
        if self.handcrafted:
            return self.no_tower.equals_text_tower(self.backbone.clip)
        return self.no_tower.untrained

    def _untrained_effect(self) -> str:
        if self.handcrafted:
            return 'the "no" prototypes are the yes tower\'s reading of the "no" templates, not a trained no'
        return 'CTW = ATD = 0.5 for every image'

    def no_prototypes(self, cache: Optional[CacheStore] = None) -> torch.Tensor:
        """``W_no`` (K, D): per class the normalised sum of the normalised "no" embeddings of every template (the
        mean prompt; hand-crafted: every "no" template of ``prompt_pairs``), cached under the no tower's content
        digest (only the K x D result is stored)."""
        encoder = NoTextEncoder(self.no_tower, self.backbone)
        names = list(self.class_names)
        templates = list(self.no_templates if self.handcrafted else self.templates)

        def compute():
            emb = build_text_classifier_cached(encoder, names, templates, None, self.text_batch_size,
                                               progress=len(names) * len(templates) > 5000)
            return {'emb': emb.cpu().numpy().astype(np.float32)}, {'num_classes': len(names)}

        if cache is None:
            return torch.from_numpy(compute()[0]['emb'])
        parts = dict(kind='clipn_no_prototypes', encoder=encoder.text_identity, classes=hash_strings(names),
                     templates=hash_strings(templates))
        arrays, _, _ = cache.get_or_compute(TEXT_NAMESPACE, parts, compute)
        return torch.from_numpy(np.array(arrays['emb']))

    def prepare(self, work_dir: Optional[str] = None, force: bool = False, checkpoint: Optional[str] = None) -> None:
        """Yes and no prototypes, then the heads (once per state of the no tower; entering training drops them,
        and :class:`~mmood.engine.OODPrepareHook` does not prepare before training: ``prepare_before_train``)."""
        self.note_checkpoint(checkpoint)
        if self._prepared and not force:
            return
        cache = CacheStore(self.cache_dir) if self.cache_dir else None
        device = self.no_tower.device
        self.no_text = compute_on_main(lambda: self.no_prototypes(cache).cpu()).to(device)
        super().prepare(work_dir=work_dir, force=True, checkpoint=checkpoint)
        if self.no_tower_untrained:
            print_log(f'CLIPN: the "no" tower is untrained (no checkpoint loaded?): it equals the yes tower '
                      f'({self._untrained_effect()})', logger='current', level=logging.WARNING)

    # ------------------------------------------------------------------ training
    def _prompt_keys(self, data_samples: List[DataSample]):
        """(step, sample index) per sample, or None when the samples carry no index (then the seeded generator)."""
        if all('sample_idx' in s for s in data_samples):
            step = int(self.prompt_step)
            return [(step, int(s.sample_idx)) for s in data_samples]
        return None

    def pair_texts(self, texts: Sequence[str], pair_index: torch.Tensor) -> tuple:
        """Hand-crafted variant: (yes-tower texts, no-tower texts) of captions with their drawn pairs (the caption
        in place of ``{}``; the yes texts are the captions themselves with ``yes_text='raw'``)."""
        pairs = [int(p) for p in pair_index]
        no = [self.no_templates[p].replace('{}', t) for t, p in zip(texts, pairs)]
        if self.yes_text == 'raw':
            return list(texts), no
        return [self.templates[p].replace('{}', t) for t, p in zip(texts, pairs)], no

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """CLIPN's loss on a batch of image-caption pairs (the global batch under DDP)."""
        texts = captions_of(data_samples, self.text_key, type(self).__name__)
        device = self.no_tower.device
        if self.handcrafted:  # one yes/no template pair per caption
            pair_index = self.no_tower.draw(len(texts), len(self.no_templates), self._prompt_keys(data_samples))
            yes_texts, no_texts = self.pair_texts(texts, pair_index)
        else:
            yes_texts = no_texts = texts
        with torch.no_grad():  # the frozen towers: constants of the loss
            image = self.backbone.encode_image(inputs)
            tokens = self.backbone.tokenize(yes_texts).to(device)
            yes = torch.nn.functional.normalize(self.backbone.clip.encode_text(tokens).float(), dim=-1)
            scale = self.backbone.clip.logit_scale.detach().float().exp().clamp(max=self.max_logit_scale)
        if self.handcrafted:
            no = self.no_tower(self.backbone.tokenize(no_texts).to(device))
        else:
            index = self.no_tower.draw_prompts(len(texts), self._prompt_keys(data_samples))
            no = self.no_tower(tokens, prompt_index=index)
        labels = None
        if getattr(self.loss_module, 'mask_same_class', False):
            if not all('gt_label' in s for s in data_samples):
                raise ConfigError('CLIPNLoss(mask_same_class=True) needs class labels in the data samples '
                                  '(gt_label); image-caption data without labels: mask_same_class=False')
            labels = torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples]).to(device)
        self.prompt_step += 1
        return self.loss_module(image, yes, no, scale, labels)

    def report_notes(self) -> List[str]:
        notes = super().report_notes()
        if self.no_tower_untrained:
            notes.append(f'CLIPN "no" tower untrained (it equals the yes tower: {self._untrained_effect()}): pass '
                         'the checkpoint of tools/train.py or of tools/model_converters/clipn_to_mmood.py')
        return notes
