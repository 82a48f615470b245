"""Captions of images by a BLIP-2 model (transformers' ``Blip2ForConditionalGeneration``), batched, cached by image
content and resumable (``tools/dataset_converters/caption_images.py``).

TOE's caption-level outliers (Park et al., NeurIPS 2023, arXiv 2310.16492, Sec. 3.2) start from BLIP-2 captions
of the ID images (the reference: ``Salesforce/blip2-opt-2.7b``, fp16, no text prompt, ``max_new_tokens=20``,
greedy, batch 1, ``skip_special_tokens``); its Mahalanobis filter (:func:`mmood.text.caption_filter`, the caption
level of ``TOEClassifier``) then keeps the captions farthest from the ID classes. Departures from the reference
code (docs/toe.md, "Captioner"): images are read with PIL and converted to RGB directly (the reference's round trip
through a tensor gives CMYK files wrong colours), listed in sorted order (the reference: ``os.walk`` order, files
ending in ``.JPEG`` only), captioned in batches, and the images default to the ones the user names (train images
in the docs; the reference captions ``Imagenet/test``).

Cache (:class:`mmood.cache.CacheStore`, namespace ``captions``): the images are cut into chunks of ``chunk_size``
in list order; a chunk's entry is keyed by the captioner (model name or folder identity, options, transformers
version) and the SHA-256 of each of its image files, and holds the captions as UTF-8 bytes with end offsets. A
killed run keeps its finished chunks; the next run with the same images and options captions only the rest, and the
same images under another folder reuse them.
"""
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np

from ..cache import CacheStore, file_identity, file_sha256, make_key
from ..utils import atomic_open
from ..utils.errors import ConfigError, DataError

__all__ = ['CAPTION_NAMESPACE', 'IMAGE_SUFFIXES', 'list_images', 'caption_images', 'read_captions']

CAPTION_NAMESPACE = 'captions'
IMAGE_SUFFIXES = ('.jpeg', '.jpg', '.png', '.bmp', '.webp')


def list_images(images: Union[str, Sequence[str]]) -> List[str]:
    """The image files: a folder (searched recursively for :data:`IMAGE_SUFFIXES`, case-insensitive, sorted by
    relative path), a ``.txt`` list (one path per line, relative to the list's folder) or a list of paths."""
    if isinstance(images, (list, tuple)):
        return [str(p) for p in images]
    images = str(images)
    if osp.isdir(images):
        found = [osp.join(d, n) for d, _, names in os.walk(images) for n in names
                 if osp.splitext(n)[1].lower() in IMAGE_SUFFIXES]
        return sorted(found, key=lambda p: osp.relpath(p, images))
    if osp.isfile(images) and images.endswith('.txt'):
        root = osp.dirname(osp.abspath(images))
        with open(images, encoding='utf-8') as f:
            return [osp.join(root, line.strip()) for line in f if line.strip() and not line.startswith('#')]
    raise DataError(f'images: {images} is neither a folder of images nor a .txt list of image paths')


def _pack(strings: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode('utf-8') for s in strings]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64) if encoded else np.zeros(0, np.int64)
    return np.frombuffer(b''.join(encoded), dtype=np.uint8).copy(), ends


def _unpack(data: np.ndarray, ends: np.ndarray) -> List[str]:
    starts = np.r_[0, ends[:-1]] if len(ends) else ends
    raw = np.asarray(data).tobytes()
    return [raw[int(s):int(e)].decode('utf-8') for s, e in zip(starts, ends)]


def _model_identity(model: str) -> Any:
    """The captioner's name, or for a local folder its files' identities (path, size, mtime)."""
    if osp.isdir(model):
        return {n: file_identity(osp.join(model, n)) for n in sorted(os.listdir(model))
                if osp.isfile(osp.join(model, n))}
    return str(model)


class _Captioner:
    """The BLIP-2 model and its processor, loaded on first use (a fully cached run loads nothing)."""

    def __init__(self, model: str, device: str, dtype: str, prompt: Optional[str], max_new_tokens: int):
        self.name, self.device, self.dtype, self.prompt = model, device, dtype, prompt
        self.max_new_tokens = int(max_new_tokens)
        self.model = self.processor = None

    def load(self) -> None:
        import torch
        import transformers
        dtype = dict(fp16=torch.float16, bf16=torch.bfloat16, fp32=torch.float32)[self.dtype]
        self.processor = transformers.AutoProcessor.from_pretrained(self.name)
        self.model = transformers.Blip2ForConditionalGeneration.from_pretrained(self.name, dtype=dtype)
        self.model.to(self.device).eval()

    def __call__(self, paths: Sequence[str]) -> List[str]:
        import torch
        from PIL import Image
        if self.model is None:
            self.load()
        images = []
        for path in paths:
            with Image.open(path) as img:
                images.append(img.convert('RGB'))
        kwargs = dict(images=images, return_tensors='pt')
        if self.prompt:
            kwargs['text'] = [self.prompt] * len(images)
        inputs = self.processor(**kwargs)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs['pixel_values'] = inputs['pixel_values'].to(self.model.dtype)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        if 'input_ids' in inputs:  # the prompt is part of a decoder-only model's output
            out = out[:, inputs['input_ids'].shape[1]:]
        return [t.strip() for t in self.processor.batch_decode(out, skip_special_tokens=True)]


def caption_images(images: Union[str, Sequence[str]], out_file: Optional[str], cache_dir: str,
                   model: str = 'Salesforce/blip2-opt-2.7b', batch_size: int = 16, max_new_tokens: int = 20,
                   prompt: Optional[str] = None, device: Optional[str] = None, dtype: Optional[str] = None,
                   chunk_size: int = 256, out: Optional[TextIO] = None) -> Dict[str, Any]:
    """Caption every image (module docstring) and write the captions file.

    Args:
        images: a folder, a ``.txt`` list of paths, or a list of paths (:func:`list_images`).
        out_file: the ``.txt`` written: ``# key: value`` header lines, then one caption per image in image order
            (a blank line for an empty caption, so row i stays image i: the caption level reads it with
            ``keep_blank``; a caption starting with ``#`` gets a leading space, so it is not read as a header
            line); None writes nothing.
        cache_dir: the shared cache folder.
        model: hub name or folder of a ``Blip2ForConditionalGeneration`` with its processor.
        batch_size: images per ``generate`` call.
        max_new_tokens: generated tokens per caption (20, the reference's).
        prompt: a text prompt (None: unconditional captioning, the reference's).
        device: e.g. ``'cuda:0'`` (default: CUDA when available).
        dtype: ``'fp16'``, ``'bf16'`` or ``'fp32'`` (default: fp16 on CUDA, fp32 on CPU).
        chunk_size: images per cache entry (the unit of resumption).
        out: where progress is printed (default ``sys.stdout``).

    Returns:
        ``dict(paths, captions, chunks, cached_chunks, captioned)``: the images, their captions, the number of
        chunks, how many came from the cache, and how many images were captioned by this call.
    """
    import torch
    import transformers
    out = out or sys.stdout
    if int(batch_size) < 1 or int(chunk_size) < 1:
        raise ConfigError(f'batch_size and chunk_size must be positive, got {batch_size}, {chunk_size}')
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    dtype = dtype or ('fp16' if str(device).startswith('cuda') else 'fp32')
    if dtype not in ('fp16', 'bf16', 'fp32'):
        raise ConfigError(f'dtype must be fp16, bf16 or fp32, got {dtype!r}')
    paths = list_images(images)
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise DataError(f'{len(missing)} image(s) not found, e.g. {missing[0]}')
    captioner = _Captioner(str(model), device, dtype, prompt, max_new_tokens)
    recipe = dict(model=_model_identity(str(model)), dtype=dtype, prompt=prompt, max_new_tokens=int(max_new_tokens),
                  decoding='greedy (the model\'s generation config)', transformers=transformers.__version__)
    store = CacheStore(cache_dir)
    captions: List[str] = []
    cached = captioned = 0
    chunks = range(0, len(paths), int(chunk_size))
    for number, start in enumerate(chunks):
        chunk = paths[start:start + int(chunk_size)]
        key = make_key(dict(recipe, images=[file_sha256(p) for p in chunk]))
        found = store.load(CAPTION_NAMESPACE, key)
        if found is not None:
            captions += _unpack(found[0]['data'], found[0]['ends'])
            cached += 1
            continue
        texts = []
        for s in range(0, len(chunk), int(batch_size)):
            texts += captioner(chunk[s:s + int(batch_size)])
        data, ends = _pack(texts)
        store.save(CAPTION_NAMESPACE, key, dict(data=data, ends=ends),
                   dict(recipe, count=len(texts), first_image=chunk[0]))
        captions += texts
        captioned += len(texts)
        print(f'captions: chunk {number + 1}/{len(chunks)} ({len(chunk)} images) done', file=out)
    result = dict(paths=paths, captions=captions, chunks=len(chunks), cached_chunks=cached, captioned=captioned)
    if out_file:
        header = dict(made_by='mmood.apis.caption_images', model=str(model), dtype=dtype, prompt=prompt or '',
                      max_new_tokens=int(max_new_tokens), images=len(paths),
                      first_image=paths[0] if paths else '', order='sorted relative paths (or the given list)')
        with atomic_open(out_file, 'w', encoding='utf-8') as f:
            for k, v in header.items():
                f.write(f'# {k}: {str(v)}\n')
            for text in captions:  # a caption starting with "#" gets a leading space: not a header line
                line = text.replace('\r', ' ').replace('\n', ' ')
                f.write((' ' + line if line.startswith('#') else line) + '\n')
        print(f'{len(captions)} captions ({cached}/{len(chunks)} chunks from the cache) -> {out_file}', file=out)
    return result


def read_captions(path: str) -> List[str]:
    """The captions of a file :func:`caption_images` wrote, one per image (blank ones as ``''``), stripped."""
    from ..text import read_outlier_list
    return [c.strip() for c in read_outlier_list(path, keep_blank=True)]
