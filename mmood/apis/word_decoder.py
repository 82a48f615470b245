"""TOE's word decoder: converting the reference's released checkpoint
(``tools/model_converters/toe_decoder_to_mmood.py``; docs/toe.md, "Word decoder").

The released file (``model_epoch100.pt``, written by ZOC's ``train_decoder.py`` as TOE's README describes) is a
torch file holding a dict whose ``net`` is the state dict of a transformers ``BertGenerationDecoder`` with
cross-attention (``bert.embeddings.*``, ``bert.encoder.layer.<i>.{attention,crossattention,intermediate,output}.*``,
``lm_head.*``); ZOC also stores ``epoch`` and ``validation loss``. A plain state dict and ``module.`` prefixes
(DataParallel) are accepted too. The mmood checkpoint is ``{'state_dict': {'decoder.<key>': tensor}, 'meta':
{...}}``, which :class:`mmood.models.TOEWordDecoder` loads (``load_from``, or ``model.outliers.decoder.checkpoint``
of a TOE word config).
"""
import os.path as osp
from typing import Any, Dict, Optional, TextIO

import torch

from ..cache import file_sha256
from ..utils import atomic_open, load_checkpoint_file
from ..utils.errors import UserError

__all__ = ['convert_word_decoder', 'word_decoder_config_of', 'coco_captions_to_tsv']


def word_decoder_config_of(state: Dict[str, torch.Tensor]) -> Dict[str, int]:
    """The ``BertGenerationConfig`` sizes a decoder state dict implies (vocabulary, width, layers, FFN, positions)."""
    layers = {int(k.split('.')[3]) for k in state if k.startswith('bert.encoder.layer.')}
    return dict(vocab_size=int(state['bert.embeddings.word_embeddings.weight'].shape[0]),
                hidden_size=int(state['bert.embeddings.word_embeddings.weight'].shape[1]),
                num_hidden_layers=len(layers),
                intermediate_size=int(state['bert.encoder.layer.0.intermediate.dense.weight'].shape[0]),
                max_position_embeddings=int(state['bert.embeddings.position_embeddings.weight'].shape[0]))


def convert_word_decoder(src: str, dst: str, out: Optional[TextIO] = None) -> Dict[str, Any]:
    """Convert the reference's decoder checkpoint ``src`` into an mmood checkpoint ``dst`` (module docstring).

    Returns:
        The checkpoint's ``meta``: the source and its SHA-256, the implied decoder sizes, ZOC's epoch and
        validation loss when present.

    Raises:
        UserError: no decoder weights, or no cross-attention (a decoder without the image conditioning).
    """
    raw = load_checkpoint_file(src)
    state = raw.get('net', raw.get('state_dict', raw)) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f'{src}: expected a dict with "net" = the decoder\'s state dict (or a state dict)')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    if 'bert.embeddings.word_embeddings.weight' not in state or not any(k.startswith('lm_head.') for k in state):
        raise UserError(f'{src}: not a BertGenerationDecoder state dict (no bert.embeddings / lm_head weights)')
    if not any('.crossattention.' in k for k in state):
        raise UserError(f'{src}: the decoder has no cross-attention, so nothing conditions it on the image')
    meta = dict(converted_from=osp.abspath(src), source_sha256=file_sha256(src),
                decoder_config=word_decoder_config_of(state), made_by='mmood.apis.convert_word_decoder')
    for key in ('epoch', 'validation loss'):
        if isinstance(raw, dict) and key in raw:
            meta[key.replace(' ', '_')] = float(raw[key]) if key != 'epoch' else int(raw[key])
    with atomic_open(dst, 'wb') as f:
        torch.save(dict(state_dict={f'decoder.{k}': v for k, v in state.items()}, meta=meta), f)
    print(f'{len(state)} decoder tensors of {src} -> {dst} ({meta["decoder_config"]})', file=out)
    return meta


def coco_captions_to_tsv(annotations: str, image_dir: str, out_tsv: str, per_image: Optional[int] = 5,
                         out: Optional[TextIO] = None) -> Dict[str, int]:
    """Write MS-COCO captions (``captions_{train,val}2017.json``) as ``path<TAB>caption`` lines for
    :class:`mmood.datasets.ImageCaptionDataset`: images in ascending id (torchvision's ``CocoDetection`` order),
    the first ``per_image`` captions of each in file order (ZOC's decoder training uses 5; None keeps all).
    An image with fewer captions keeps what it has (ZOC only warns and then pairs later captions with the wrong
    images). Tabs and newlines inside captions become spaces; paths are ``image_dir/file_name``.

    Returns:
        ``dict(images, captions, short)``: images written, caption lines, images with fewer than ``per_image``.
    """
    import json
    with open(annotations, encoding='utf-8') as f:
        coco = json.load(f)
    by_image: Dict[int, list] = {}
    for ann in coco.get('annotations', []):
        by_image.setdefault(int(ann['image_id']), []).append(str(ann['caption']))
    lines, short, images = [], 0, 0
    for image in sorted(coco.get('images', []), key=lambda im: int(im['id'])):
        caps = by_image.get(int(image['id']), [])
        if per_image is not None:
            short += len(caps) < int(per_image)
            caps = caps[:int(per_image)]
        caps = [' '.join(c.split()) for c in caps if c.strip()]
        if caps:
            images += 1
        path = osp.join(image_dir, str(image['file_name']))
        lines += [f'{path}\t{c}' for c in caps]
    with atomic_open(out_tsv, 'w', encoding='utf-8') as f:
        f.writelines(line + '\n' for line in lines)
    print(f'{len(lines)} captions of {images} images -> {out_tsv} ({short} images with fewer than {per_image})',
          file=out)
    return dict(images=images, captions=len(lines), short=short)
