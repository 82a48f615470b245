"""TOE's word decoder: a BERT decoder conditioned on the CLIP image embedding, trained on image captions.

Paper: S. Park, J. Mok, D. Jung, S. Lee, S. Yoon, "On the Powerfulness of Textual Outlier Exposure for Visual OoD
Detection", NeurIPS 2023, arXiv:2310.16492, Sec. 3.2 (word-level outliers), which takes the decoder of ZOC
(Esmaeilpour et al., "Zero-Shot Out-of-Distribution Detection Based on the Pre-trained Model CLIP", AAAI 2022):

* transformers' ``BertGenerationDecoder`` (``google/bert_for_seq_generation_L-24_bbc_encoder``: 24 layers, hidden
  1024) with ``is_decoder`` and ``add_cross_attention`` (the cross-attention weights start random);
* its one "encoder token" is the **unnormalised** CLIP image embedding repeated to the decoder's width
  (``[x, x]``: 512 -> 1024), shape (B, 1, H), without an encoder attention mask;
* training (``mode='loss'``, image-caption pairs, the caption in ``data_sample.text``): ``<s> caption </s>`` (the
  tokenizer's ids without its own special tokens, truncated to ``max_length`` tokens in all), padded to the
  batch's longest, labels = ids with padding ignored, the model's shifted language-model cross-entropy. The CLIP
  tower is frozen and its embedding is used in float (ZOC casts its cached features to integers and normalises
  MS-COCO with CIFAR-10 statistics; mmood uses CLIP's own preprocessing and float features; docs/toe.md);
* generation (:meth:`TOEWordDecoder.first_step_logits`): one step from ``<s>``, whose logits
  :mod:`mmood.text.decoder_words` turns into words.

Checkpoints hold the decoder only (``decoder.*``); the frozen tower comes from its open_clip weights. The
reference's released decoder (``{'net': state_dict}``) is converted by :func:`mmood.apis.convert_word_decoder`.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.errors import ConfigError
from .clip_contrastive import captions_of
from .clip_ood import build_data_preprocessor

__all__ = ['TOEWordDecoder', 'build_bert_decoder']


def build_bert_decoder(pretrained: Optional[str] = None, config: Optional[dict] = None):
    """A ``BertGenerationDecoder`` with ``is_decoder=True`` and ``add_cross_attention=True``: from a hub name or
    folder (``pretrained``; the cross-attention weights are new) or, without weights, from config options."""
    import transformers
    if (pretrained is None) == (config is None):
        raise ConfigError('decoder: give exactly one of pretrained (a hub name or folder) and config (options of '
                          'transformers.BertGenerationConfig)')
    if pretrained is not None:
        cfg = transformers.BertGenerationConfig.from_pretrained(pretrained)
        cfg.is_decoder, cfg.add_cross_attention = True, True
        return transformers.BertGenerationDecoder.from_pretrained(pretrained, config=cfg)
    cfg = transformers.BertGenerationConfig(**dict(config, is_decoder=True, add_cross_attention=True))
    return transformers.BertGenerationDecoder(cfg)


def _drop_frozen_tower(module, state_dict, prefix, local_metadata) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + 'backbone.')]:
        del state_dict[key]


def _frozen_tower_not_missing(module, incompatible_keys) -> None:
    incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys if not k.startswith('backbone.')]


@MODELS.register_module()
class TOEWordDecoder(BaseModel):
    """A caption decoder on a frozen CLIP image embedding (module docstring).

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone` (frozen): the CLIP whose embedding
            conditions the decoder (ZOC: ViT-B/32; TOE's generation: its training CLIP, ViT-B/16).
        decoder: ``dict(pretrained=<hub name or folder>)`` or ``dict(config=<BertGenerationConfig options>)``.
        tokenizer: a transformers tokenizer name or folder (``AutoTokenizer``; the reference's is the
            SentencePiece tokenizer of the decoder's hub repository, which needs the ``sentencepiece`` package).
        max_length: tokens per caption with ``<s>`` and ``</s>`` (77).
        text_key: data-sample field holding the caption.
        data_preprocessor: defaults to CLIP normalisation with BGR->RGB.
    """

    #: a checkpoint of this model must hold the decoder
    checkpoint_required_prefixes = ('decoder.', )

    def __init__(self, backbone: Optional[dict], decoder: dict, tokenizer: str, max_length: int = 77,
                 text_key: str = 'text', data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor), init_cfg=init_cfg)
        import transformers
        # None: generation from given embeddings only (TOE's list writer reads its cached features)
        self.backbone = MODELS.build(dict(backbone, frozen=True)) if backbone is not None else None
        self.decoder = build_bert_decoder(**dict(decoder))
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer)
        self.tokenizer_name = str(tokenizer)
        cfg = self.decoder.config
        self.bos_id, self.eos_id, self.pad_id = int(cfg.bos_token_id), int(cfg.eos_token_id), int(cfg.pad_token_id)
        self.max_length = int(max_length)
        if self.max_length < 3:
            raise ConfigError(f'max_length must leave room for <s>, a token and </s>, got {max_length}')
        self.text_key = text_key
        self.register_state_dict_post_hook(_drop_frozen_tower)
        self.register_load_state_dict_post_hook(_frozen_tower_not_missing)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.backbone is not None:
            self.backbone.eval()  # frozen: no dropout in the tower
        return self

    # ------------------------------------------------------------------ conditioning
    def condition(self, image_emb: Tensor) -> Tensor:
        """(B, D) unnormalised image embeddings -> (B, 1, H) encoder states: the embedding repeated ``H / D`` times
        along the feature axis (``[x, x]`` for D = 512, H = 1024)."""
        hidden = int(self.decoder.config.hidden_size)
        dim = int(image_emb.shape[-1])
        if hidden % dim:
            raise ConfigError(f'the decoder width {hidden} is not a multiple of the image embedding width {dim}')
        return image_emb.float().repeat(1, hidden // dim).unsqueeze(1)

    @torch.no_grad()
    def image_embedding(self, images: Tensor) -> Tensor:
        """The frozen tower's unnormalised image embeddings (B, D), float32."""
        if self.backbone is None:
            raise ConfigError(f'{type(self).__name__} was built without a backbone: it decodes given embeddings only')
        return self.backbone.encode_image(images, normalize=False).float()

    # ------------------------------------------------------------------ captions
    def caption_ids(self, captions: Sequence[str]) -> Dict[str, Tensor]:
        """``<s> caption </s>`` ids padded to the longest, the attention mask and the labels (padding = -100)."""
        rows = []
        for text in captions:
            ids = self.tokenizer(str(text), add_special_tokens=False)['input_ids'][:self.max_length - 2]
            rows.append([self.bos_id] + list(ids) + [self.eos_id])
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        labels = input_ids.masked_fill(mask == 0, -100)
        return dict(input_ids=input_ids, attention_mask=mask, labels=labels)

    def caption_loss(self, image_emb: Tensor, captions: Sequence[str]) -> Tensor:
        """The shifted language-model cross-entropy of the captions given the image embeddings."""
        batch = {k: v.to(image_emb.device) for k, v in self.caption_ids(captions).items()}
        out = self.decoder(input_ids=batch['input_ids'], attention_mask=batch['attention_mask'],
                           encoder_hidden_states=self.condition(image_emb), labels=batch['labels'])
        return out.loss

    def loss(self, inputs: Tensor, data_samples: List) -> Dict[str, Tensor]:
        captions = captions_of(data_samples, self.text_key, type(self).__name__)
        return dict(loss=self.caption_loss(self.image_embedding(inputs), captions))

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def first_step_logits(self, image_emb: Tensor) -> Tensor:
        """(B, V) logits of the token after ``<s>`` given (B, D) unnormalised image embeddings."""
        start = torch.full((image_emb.shape[0], 1), self.bos_id, dtype=torch.long, device=image_emb.device)
        return self.decoder(input_ids=start, encoder_hidden_states=self.condition(image_emb)).logits[:, -1].float()

    def decode_token(self, token_id: int) -> str:
        """One token decoded alone, lower-cased (a SentencePiece piece is a word or a word fragment); special
        tokens decode to the empty string, which the non-semantic filter drops."""
        return self.tokenizer.decode([int(token_id)], skip_special_tokens=True).strip().lower()

    def forward(self, inputs: Tensor, data_samples: Optional[List] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.first_step_logits(self.image_embedding(inputs))
        raise ValueError(f'{type(self).__name__} supports modes "loss" and "tensor", got "{mode}"')
