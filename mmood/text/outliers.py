"""Textual outliers of TOE: building, filtering, reading and writing the outlier strings.

Paper: S. Park, J. Mok, D. Jung, S. Lee, S. Yoon, "On the Powerfulness of Textual Outlier Exposure for Visual OoD
Detection", NeurIPS 2023, arXiv:2310.16492 (reference code ``wiarae/TOE``; it has no licence file, so only its
facts are used here). TOE trains a linear head on frozen CLIP image features with outlier exposure, where the
outliers are CLIP *text* embeddings of strings built at one of three levels (:data:`OUTLIER_LEVELS`):

* ``'word'``: single words that lie near, but not on, the ID classes, each prompted as
  ``'This is a photo of a {w}'`` (:data:`WORD_TEMPLATE`). TOE decodes them from CLIP image embeddings with a
  BERT decoder trained as in ZOC; mmood runs that generation as the paper describes it (one decoder step per ID
  *train* image, ranks 31-55 per image: :mod:`mmood.text.decoder_words`, :class:`mmood.models.TOEWordDecoder`;
  the reference's loop never feeds tokens back and reads the ID *test* images). :func:`read_outlier_list` loads a
  released list and :func:`word_outliers` prompts, cleans and deduplicates any word list. :func:`wordnet_window`
  is mmood's own, decoder-free way to pick such words from a candidate corpus (e.g. WordNet nouns): the
  candidates whose NegLabel-style similarity quantile to the ID prompts lies in a percentile window (85-95 by
  default), i.e. close to the ID classes but not the closest ones. It is not part of the paper. With
  ``debug_expansion=True`` the list grows as in the reference's quick start (``main.py --debug True``, which reads
  the released ``<ID>_outlier_word.npy`` in ``textual_outliers.py``, ``get_textual_outliers``): after the N prompts,
  each prompt's last space-separated word in the four :data:`TOE_TEMPLATES`, 5N strings (:func:`debug_expand`).
* ``'description'``: GPT-3 visual descriptors of the ID classes (classify_by_description, Menon & Vondrick), each
  as ``'This is a photo of ' + descriptor`` plus four templated copies (:data:`TOE_TEMPLATES`);
  :func:`description_outliers`. The class names themselves are dropped.
* ``'caption'``: BLIP-2 captions of ID images, of which the 15 % farthest from every ID class (class-conditional
  Gaussians of CLIP image features) are kept; :func:`caption_filter` (captioning: :func:`mmood.apis.caption_images`).

Decisions (reference parity by default, fixes as options; see TOE-* in docs/reference_deviations.md):

* Description templating (TOE-8): the reference removes the prefix with ``str.strip('a photo of ')``, a
  *character-set* strip: the leading ``'This'`` survives (``'This is a blurry photo of This is a photo of ...'``)
  and trailing characters from ``{a, p, h, o, t, f, ' '}`` are eaten (``'... freshwater fish'`` becomes
  ``'... freshwater fis'``). ``fix_strip=False`` (default) reproduces this byte for byte,
  without deduplication (5,800 descriptors give 29,000 strings); ``fix_strip=True`` templates the descriptor
  itself and drops duplicates.
* Caption filter (TOE-9): the reference's bugs (only the first 100 classes, class membership taken from the
  batch index, mismatched index file name) are fixed when the filter is recomputed here; reference parity is
  obtained by consuming the released index file instead. The reference's model (CLIP ViT-B/32) is the caller's
  choice; this module only sees embeddings.
* Files: ``.txt`` lists (one string per line, optional ``# key: value`` header, e.g. provenance and SHA-256 of
  the source) are the native format; the reference's object ``.npy`` arrays need pickle and are only loaded
  with an explicit ``allow_pickle=True``, with a warning that carries the file's SHA-256.

This module holds pure functions on strings and tensors: it imports only :mod:`mmood.cache`, :mod:`mmood.utils`,
:mod:`mmood.scores` and the pure helpers of :mod:`mmood.text.mining`.
"""
import os.path as osp
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..cache import file_sha256
from ..scores.mahalanobis import fit_gaussians, mahalanobis_score
from ..utils.errors import ConfigError, DataError, UserError
from ..utils.io import atomic_open
from .class_names import resolve_path
from .mining import quantile_similarity, select_lowest

__all__ = [
    'outlier_source_problems',
    'OUTLIER_LEVELS', 'WORD_TEMPLATE', 'DESCRIPTION_PREFIX', 'TOE_TEMPLATES', 'read_outlier_list',
    'write_outlier_list', 'read_outlier_header', 'word_outliers', 'debug_expand', 'wordnet_window',
    'description_outliers', 'caption_filter', 'select_per_class'
]

OUTLIER_LEVELS = ('word', 'description', 'caption')
WORD_TEMPLATE = 'This is a photo of a {}'
DESCRIPTION_PREFIX = 'This is a photo of '
TOE_TEMPLATES = ('This is a blurry photo of {}', 'This is a photo of many {}', 'This is a photo of the large {}',
                 'This is a photo of the small {}')

# The argument of the reference's character-set strip (TOE-8); kept verbatim for parity.
_REFERENCE_STRIP_CHARS = 'a photo of '
_LIST_SUFFIXES = ('.txt', '.npy')


# --------------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------------
def _suffix(path: str) -> str:
    return osp.splitext(str(path))[1].lower()


def _require_file(path: str, what: str) -> None:
    if not osp.isfile(path):
        raise DataError(f'{what} not found: {path} (check the path; outlier lists are user-supplied files)')


def _one_line(text: Any) -> str:
    """``str(text)`` with every carriage return and newline replaced by a space."""
    return str(text).replace('\r\n', ' ').replace('\r', ' ').replace('\n', ' ')


def read_outlier_list(path: str, allow_pickle: bool = False, keep_blank: bool = False) -> List[str]:
    """Read a list of outlier strings from a ``.txt`` or ``.npy`` file.

    ``.txt``: one string per line (UTF-8); lines starting with ``#`` (the header, see :func:`write_outlier_list`)
    and blank lines are skipped, and the trailing ``\\n`` / ``\\r`` of every line is removed (other whitespace is
    kept). ``.npy``: a 1-D array of strings. A unicode array (dtype ``<U..``) loads without pickle; an object
    array, the reference's format (e.g. ``ImageNet_outlier_description.npy``), can only be loaded with pickle,
    which can run arbitrary code, so it is refused unless ``allow_pickle=True`` and then loaded with a warning.

    Args:
        path (str): The ``.txt`` or ``.npy`` file.
        allow_pickle (bool): Allow pickle for object ``.npy`` arrays (only for a trusted file). Defaults to False.
        keep_blank (bool): Keep blank lines of a ``.txt`` as ``''`` (one row per line, so row ``i`` is line ``i``
            after the header: a captions file read with an index file). Defaults to False.

    Returns:
        list[str]: The strings in file order (duplicates kept).

    Raises:
        DataError: The file does not exist (a :class:`UserError`).
        UserError: Unsupported suffix, an object array without ``allow_pickle``, a non-string element or a
            non-1-D array.
    """
    path = str(path)
    suffix = _suffix(path)
    if suffix not in _LIST_SUFFIXES:
        raise UserError(f'Unsupported outlier list {path}: expected one of {_LIST_SUFFIXES} '
                        '(a text file with one string per line, or a 1-D .npy array of strings)')
    _require_file(path, 'Outlier list')
    if suffix == '.txt':
        with open(path, encoding='utf-8') as f:
            lines = [line.rstrip('\r\n') for line in f]
        if keep_blank:  # the header only at the top; every later line is a row
            start = next((i for i, line in enumerate(lines) if not line.startswith('#')), len(lines))
            return [line if line.strip() else '' for line in lines[start:]]
        return [line for line in lines if line.strip() and not line.startswith('#')]

    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as err:
        if 'allow_pickle' not in str(err):
            raise UserError(f'Cannot read outlier list {path}: {err}') from err
        if not allow_pickle:
            raise UserError(
                f'Outlier list {path} is an object array, which numpy can only load with pickle; loading a '
                'pickle can run arbitrary code. Pass allow_pickle=True (config: model.outliers.allow_pickle=True; '
                'tools/dataset_converters/make_text_outliers.py: --allow-pickle) only for a file you trust (e.g. the '
                'reference release, after checking its SHA-256), or convert it once to a .txt list '
                '(write_outlier_list).') from err
        warnings.warn(f'Loading outlier list {path} (sha256 {file_sha256(path)}) with pickle '
                      '(allow_pickle=True); pickle can run code, use only trusted files.', UserWarning, stacklevel=2)
        arr = np.load(path, allow_pickle=True)
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        shape = getattr(arr, 'shape', None)
        raise UserError(f'Outlier list {path} must hold a 1-D array of strings, got shape {shape}')
    if arr.dtype.kind not in 'UO':
        raise UserError(f'Outlier list {path} must hold strings, got an array of dtype {arr.dtype}')
    items = arr.tolist()
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise UserError(f'Outlier list {path}: element {i} is of type {type(item).__name__}, not str')
    return items


def write_outlier_list(path: str, texts: Sequence[str], header: Dict[str, Any]) -> None:
    """Write a ``.txt`` outlier list atomically: a ``# key: value`` header, then one string per line.

    Newlines and carriage returns inside a string (or a header value) are replaced by a space. A string that
    :func:`read_outlier_list` could not read back at its position (blank, or starting with ``#``) is refused, so
    that positions (e.g. a caption index file) stay valid. The parent folder is created.

    Args:
        path (str): Target ``.txt`` file.
        texts (Sequence[str]): The strings.
        header (dict): Provenance written first, one ``# key: value`` line per item in dict order (e.g. level,
            source file and its SHA-256 from :func:`mmood.cache.file_sha256`, options).

    Raises:
        UserError: Not a ``.txt`` path, a non-string text, a blank or ``#``-leading text, or a header key that
            is empty or contains ``:`` or a newline.
    """
    path = str(path)
    if _suffix(path) != '.txt':
        raise UserError(f'Outlier lists are written as .txt files, got {path}')
    lines = []
    for key, value in (header or {}).items():
        key = str(key)
        if not key.strip() or ':' in key or '\n' in key or '\r' in key:
            raise UserError(f'Invalid outlier-list header key {key!r}: it must be non-empty, without ":" or '
                            'newlines')
        lines.append(f'# {key.strip()}: {_one_line(value)}')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise UserError(f'Outlier text {i} is of type {type(text).__name__}, not str (writing {path})')
        line = _one_line(text)
        if not line.strip() or line.startswith('#'):
            raise UserError(f'Outlier text {i} ({text!r}) is blank or starts with "#", so it would be skipped '
                            f'when {path} is read back; clean the list first')
        lines.append(line)
    with atomic_open(path, 'w', encoding='utf-8') as f:
        f.writelines(line + '\n' for line in lines)


def read_outlier_header(path: str) -> Dict[str, str]:
    """The ``# key: value`` header lines at the top of a ``.txt`` outlier list.

    Reading stops at the first line that does not start with ``#``. Keys and values are stripped; ``#`` lines
    without a colon are ignored; a repeated key keeps its last value.

    Args:
        path (str): The ``.txt`` file.

    Returns:
        dict[str, str]: The header in file order (empty if there is none).

    Raises:
        DataError: The file does not exist.
        UserError: Not a ``.txt`` file.
    """
    path = str(path)
    if _suffix(path) != '.txt':
        raise UserError(f'Only .txt outlier lists have a header, got {path}')
    _require_file(path, 'Outlier list')
    header = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            if not line.startswith('#'):
                break
            key, sep, value = line[1:].rstrip('\r\n').partition(':')
            if sep and key.strip():
                header[key.strip()] = value.strip()
    return header


# --------------------------------------------------------------------------------------------------------------
# Word level
# --------------------------------------------------------------------------------------------------------------
def _normalise_name(text: str) -> str:
    """Lower-case with runs of whitespace collapsed to one space (for comparisons only)."""
    return ' '.join(str(text).split()).lower()


def debug_expand(prompts: Sequence[str], templates: Sequence[str] = TOE_TEMPLATES) -> List[str]:
    """The reference's quick-start expansion of a word-level list (``textual_outliers.py``,
    ``get_textual_outliers`` with ``--debug``).

    The N prompts first, unchanged; then, for every prompt in order, its last space-separated word ``w``
    (``p.split(' ')[-1]``: ``'This is a photo of a tiger shark'`` -> ``'shark'``) in every template, template order::

        [p_1 .. p_N] + [t.format(last(p_i)) for p_i in prompts for t in templates]

    No article, no period, no deduplication: N prompts give ``(1 + len(templates)) * N`` strings.

    Args:
        prompts (Sequence[str]): The word-level prompts (e.g. from :func:`word_outliers`).
        templates (Sequence[str]): Templates with one ``{}``. Defaults to :data:`TOE_TEMPLATES`.

    Returns:
        list[str]: The expanded list.

    Raises:
        ConfigError: A template without exactly one ``{}``.
    """
    templates = tuple(templates)
    for template in templates:
        if not isinstance(template, str) or template.count('{}') != 1:
            raise ConfigError(f'Every expansion template must contain exactly one "{{}}", got {template!r}')
    prompts = [str(p) for p in prompts]
    return prompts + [t.format(p.split(' ')[-1]) for p in prompts for t in templates]


def word_outliers(words: Sequence[str], class_names: Sequence[str] = (), template: str = WORD_TEMPLATE,
                  debug_expansion: bool = False) -> List[str]:
    """Prompt, clean and deduplicate a word-level outlier list.

    Every entry is either a bare word (``'tiger shark'``) or a prompt that already has the template's prefix and
    suffix (``'This is a photo of a tiger shark'``, as in TOE's released ``.npy``); the latter is not prompted
    again. Entries are stripped of surrounding whitespace and inner runs of whitespace become one space; empty
    entries are dropped; entries whose bare word equals an ID class name (case-insensitive) are dropped; exact
    duplicates of the resulting prompt are dropped, keeping the first occurrence (so ``'lamp'`` and
    ``'This is a photo of a lamp'`` count once). The prefix and suffix are matched case-sensitively.

    Args:
        words (Sequence[str]): Bare words or full prompts.
        class_names (Sequence[str]): ID class names to exclude. Defaults to ().
        template (str): Prompt with exactly one ``{}``. Defaults to :data:`WORD_TEMPLATE`.
        debug_expansion (bool): Append the reference's quick-start expansion (:func:`debug_expand`) to the cleaned
            prompts. Defaults to False, the reference's default (its ``--debug`` is off, and its decoder path does
            not expand).

    Returns:
        list[str]: The prompts, in input order (then their expansion with ``debug_expansion``).

    Raises:
        ConfigError: The template does not contain exactly one ``{}``.
    """
    if not isinstance(template, str) or template.count('{}') != 1:
        raise ConfigError(f'The word template must contain exactly one "{{}}", got {template!r}')
    prefix, suffix = template.split('{}')
    excluded = {_normalise_name(name) for name in class_names}
    seen = set()
    out = []
    for entry in words:
        bare = str(entry).strip()
        if prefix.strip() and bare.startswith(prefix) and bare.endswith(suffix) \
                and len(bare) > len(prefix) + len(suffix):
            bare = bare[len(prefix):len(bare) - len(suffix)].strip()
        bare = ' '.join(bare.split())
        if not bare or _normalise_name(bare) in excluded:
            continue
        prompt = template.format(bare)
        if prompt not in seen:
            seen.add(prompt)
            out.append(prompt)
    return debug_expand(out) if debug_expansion else out


def wordnet_window(cand_emb: Tensor, id_emb: Tensor, quantile: float = 0.95,
                   window: Tuple[float, float] = (85.0, 95.0)) -> Tensor:
    """Candidates whose similarity quantile to the ID classes lies in a percentile window ("near, not nearest").

    For every candidate, ``q = quantile_similarity(cand_emb, id_emb, quantile)`` (NegLabel's score: the
    ``quantile``-quantile over ID classes of the cosine similarity, linear interpolation; high = close to some
    ID classes). ``lo, hi`` are the ``window`` percentiles of ``q`` over all candidates, computed by
    ``np.percentile`` (linear interpolation) on ``q`` as float64, and the candidates with ``lo <= q <= hi`` are
    returned. A percentile that falls exactly on a candidate includes it, up to numpy's rounding of the
    interpolation position (for some percentiles the position is off by an ulp, which can exclude that one
    boundary candidate). This is mmood's decoder-free word-level option, not part of the TOE paper.

    Args:
        cand_emb (Tensor): (N, D) L2-normalised candidate prompt embeddings.
        id_emb (Tensor): (K, D) L2-normalised ID prompt embeddings.
        quantile (float): Quantile over the ID classes, in [0, 1]. Defaults to 0.95.
        window (tuple[float, float]): Percentiles ``(low, high)`` with ``0 <= low < high <= 100``.
            Defaults to (85, 95).

    Returns:
        Tensor: int64 indices into ``cand_emb``, ascending.

    Raises:
        ConfigError: Invalid ``window`` or ``quantile``.
        ValueError: Malformed embeddings.
    """
    try:
        low, high = (float(v) for v in window)
    except (TypeError, ValueError) as err:
        raise ConfigError(f'window must be two percentiles (low, high), got {window!r}') from err
    if not 0.0 <= low < high <= 100.0:
        raise ConfigError(f'window must satisfy 0 <= low < high <= 100, got {window!r}')
    if not 0.0 <= float(quantile) <= 1.0:
        raise ConfigError(f'quantile must lie in [0, 1], got {quantile!r}')
    if cand_emb.ndim != 2 or id_emb.ndim != 2 or cand_emb.shape[1] != id_emb.shape[1] or id_emb.shape[0] == 0:
        raise ValueError(f'cand_emb (N, D) and id_emb (K >= 1, D) must share D, got {tuple(cand_emb.shape)} and '
                         f'{tuple(id_emb.shape)}')
    if cand_emb.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64)
    q = quantile_similarity(cand_emb, id_emb, float(quantile)).detach().cpu().to(torch.float64).numpy()
    lo, hi = np.percentile(q, [low, high])
    keep = np.flatnonzero((q >= lo) & (q <= hi))
    return torch.from_numpy(keep.astype(np.int64))


# --------------------------------------------------------------------------------------------------------------
# Description level
# --------------------------------------------------------------------------------------------------------------
def description_outliers(descriptors: Mapping[str, Sequence[str]], fix_strip: bool = False,
                         templates: Sequence[str] = TOE_TEMPLATES) -> List[str]:
    """TOE's description-level outliers from a classify_by_description JSON (class name -> descriptors).

    The class names (keys) are dropped; the descriptors are used in JSON order (classes, then list order):
    ``base = [DESCRIPTION_PREFIX + d for every descriptor d]``. The output is all of ``base`` first, then, per
    base entry in order, its ``len(templates)`` templated copies (template order)::

        fix_strip=False (reference, TOE-8): t.format(b.strip('a photo of '))   for b in base, for t in templates
        fix_strip=True:                      t.format(d)                         for d in descriptors, for t in ...

    The reference's ``str.strip`` removes *characters* of the set ``{a, ' ', p, h, o, t, f}`` from both ends,
    so the leading ``'This'`` stays and e.g. ``'This is a photo of a freshwater fish'`` becomes ``'This is a photo
    of a freshwater fis'``; no deduplication (5,800 descriptors -> 29,000 strings, 21,145 unique).
    With ``fix_strip=True`` duplicates (across originals and copies) are dropped, keeping the first occurrence.

    Args:
        descriptors (Mapping[str, Sequence[str]]): Class name -> list of descriptor strings.
        fix_strip (bool): Template the descriptor itself and deduplicate. Defaults to False (reference).
        templates (Sequence[str]): Templates with one ``{}``. Defaults to :data:`TOE_TEMPLATES`.

    Returns:
        list[str]: ``(1 + len(templates)) x #descriptors`` strings (fewer with ``fix_strip=True`` if some repeat).

    Raises:
        UserError: ``descriptors`` is not a mapping of string lists.
        ConfigError: A template without exactly one ``{}``.
    """
    if not isinstance(descriptors, Mapping):
        raise UserError(f'descriptors must map class names to lists of strings, got {type(descriptors).__name__}')
    templates = tuple(templates)
    for template in templates:
        if not isinstance(template, str) or template.count('{}') != 1:
            raise ConfigError(f'Every description template must contain exactly one "{{}}", got {template!r}')
    flat = []
    for name, items in descriptors.items():
        if isinstance(items, str) or not isinstance(items, Sequence):
            raise UserError(f'The descriptors of class {name!r} must be a list of strings, got '
                            f'{type(items).__name__}')
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise UserError(f'Descriptor {i} of class {name!r} is of type {type(item).__name__}, not str')
            flat.append(item)
    base = [DESCRIPTION_PREFIX + d for d in flat]
    if not fix_strip:
        return base + [t.format(b.strip(_REFERENCE_STRIP_CHARS)) for b in base for t in templates]
    out = base + [t.format(d) for d in flat for t in templates]
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------------------------------------------
# Caption level
# --------------------------------------------------------------------------------------------------------------
def caption_filter(caption_emb: Tensor, image_feats: Tensor, labels: Tensor, num_classes: Optional[int] = None,
                   keep: float = 0.15, shrinkage: float = 0.0) -> Tensor:
    """TOE's caption filter with its bugs fixed (TOE-9): keep the captions farthest from every ID class.

    Caption embeddings ``t_j`` and ID image features are L2-normalised here (float64). Class means ``mu_c`` and
    the pooled maximum-likelihood within-class covariance ``Sigma`` (divided by N) of the normalised image
    features come from :func:`mmood.scores.fit_gaussians` (``covariance='pooled'``); every class with samples
    is used (the reference used only the first 100). The score is::

        s_j = max_c -1/2 (t_j - mu_c)^T Sigma^-1 (t_j - mu_c)  = mahalanobis_score(t_j) / 2

    and the ``int(round(keep * N))`` captions (Python rounding, half to even; at least 1 when N > 0) with the
    *lowest* score are kept, ties broken by index.

    Args:
        caption_emb (Tensor): (N, D) CLIP text embeddings of the captions.
        image_feats (Tensor): (M, D) CLIP image features of ID training images (e.g. :func:`select_per_class`).
        labels (Tensor): (M,) integer class labels of ``image_feats``.
        num_classes (int, optional): Number of ID classes. Defaults to ``labels.max() + 1``.
        keep (float): Fraction kept, in (0, 1]. Defaults to 0.15.
        shrinkage (float): Relative ridge of :func:`fit_gaussians` (0 = exact inverse, pseudo-inverse if
            singular). Defaults to 0.

    Returns:
        Tensor: int64 indices of the kept captions, ascending.

    Raises:
        ConfigError: ``keep`` outside (0, 1].
        ValueError: Malformed inputs (from the checks here or :func:`fit_gaussians`).
    """
    keep = float(keep)
    if not 0.0 < keep <= 1.0:
        raise ConfigError(f'keep must lie in (0, 1], got {keep!r}')
    if not isinstance(caption_emb, Tensor) or caption_emb.ndim != 2 or not caption_emb.is_floating_point():
        raise ValueError('caption_emb must be a floating torch.Tensor of shape (N, D)')
    if not isinstance(image_feats, Tensor) or image_feats.ndim != 2 or image_feats.shape[1] != caption_emb.shape[1]:
        raise ValueError(f'image_feats must have shape (M, {caption_emb.shape[1]}), got '
                         f'{tuple(getattr(image_feats, "shape", ()))}')
    num = caption_emb.shape[0]
    if num == 0:
        return torch.zeros(0, dtype=torch.int64)
    text = F.normalize(caption_emb.detach().to(torch.float64), dim=1)
    image = F.normalize(image_feats.detach().to(torch.float64), dim=1)
    gaussians = fit_gaussians(image, labels, num_classes=num_classes, covariance='pooled', shrinkage=shrinkage)
    scores = mahalanobis_score(text, gaussians) / 2.0
    count = min(num, max(1, int(round(keep * num))))
    kept = select_lowest(scores.cpu(), count)
    return torch.sort(kept).values.to(torch.int64)


def select_per_class(labels: Sequence[int], per_class: int = 250) -> np.ndarray:
    """Indices of the first ``per_class`` samples of every class, in dataset order.

    TOE estimates the class means of the caption filter from at most 250 ID training images per class.

    Args:
        labels (Sequence[int]): (N,) class label of every sample (list, array or CPU tensor).
        per_class (int): Samples kept per class, >= 1. Defaults to 250.

    Returns:
        np.ndarray: int64 indices, ascending.

    Raises:
        ConfigError: ``per_class < 1``.
        ValueError: ``labels`` is not 1-D or not integer.
    """
    if int(per_class) != per_class or per_class < 1:
        raise ConfigError(f'per_class must be a positive integer, got {per_class!r}')
    if isinstance(labels, Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f'labels must be 1-D, got shape {arr.shape}')
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in 'iu':
        raise ValueError(f'labels must be integers, got dtype {arr.dtype}')
    order = np.argsort(arr, kind='stable')
    ordered = arr[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first position of every class
    group_start = np.repeat(starts, np.diff(np.r_[starts, arr.size]))
    rank = np.arange(arr.size) - group_start  # rank of each sample within its class, in dataset order
    return np.sort(order[rank < int(per_class)]).astype(np.int64)


def outlier_source_problems(outliers: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    """Check the input files of TOE's ``model.outliers`` options without generating anything (``verify_data.py``).

    Args:
        outliers: the options (``level``, ``source``, ``allow_pickle``, ``corpus``, ``index_file``, ...).

    Returns:
        ``(lines, problems)``: what was found (entries and SHA-256 per file) and what a training run would stop on.
    """
    import json
    level, source = outliers.get('level'), outliers.get('source')
    lines: List[str] = []
    problems: List[str] = []
    if level not in OUTLIER_LEVELS:
        return lines, [f'outliers.level must be one of {OUTLIER_LEVELS}, got {level!r}']
    decoder = outliers.get('decoder') or {}
    if level == 'word' and outliers.get('word_source') == 'decoder':
        checkpoint = resolve_path(str(decoder.get('checkpoint') or ''))
        if not osp.isfile(checkpoint):
            return lines, [f'word decoder checkpoint not found: {decoder.get("checkpoint")} '
                           '(model.outliers.decoder.checkpoint)']
        lines.append(f'word level from the decoder {checkpoint}, sha256 {file_sha256(checkpoint)}')
        return lines, problems
    if not source:
        if level != 'word':
            return lines, [f'{level}-level outliers need model.outliers.source (a '
                           f'{"descriptor JSON" if level == "description" else "captions file"})']
        corpus = resolve_path(str(outliers.get('corpus') or ''))
        if not osp.isdir(corpus):
            return lines, [f'word corpus folder not found: {outliers.get("corpus")} (model.outliers.corpus)']
        lines.append(f'word level from the WordNet window of {outliers.get("corpus")}')
        return lines, problems
    path = resolve_path(str(source))
    if not osp.isfile(path):
        return lines, [f'outlier source not found: {source} (model.outliers.source)']
    try:
        if level == 'description':
            with open(path, encoding='utf-8') as f:
                descriptors = json.load(f)
            if not isinstance(descriptors, dict) or not all(isinstance(v, list) for v in descriptors.values()):
                raise UserError(f'{path}: expected a JSON object of class name -> list of descriptions')
            count = sum(len(v) for v in descriptors.values())
        else:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                count = len(read_outlier_list(path, bool(outliers.get('allow_pickle')), keep_blank=level == 'caption'))
    except (UserError, ValueError) as err:
        return lines, [f'outlier source {source}: {err}']
    lines.append(f'{level} source {path}: {count} entries, sha256 {file_sha256(path)}')
    index_file = outliers.get('index_file')
    if level == 'caption' and index_file:
        index_path = resolve_path(str(index_file))
        if not osp.isfile(index_path):
            problems.append(f'caption index file not found: {index_file} (model.outliers.index_file)')
        else:
            index = np.load(index_path, allow_pickle=False).reshape(-1)
            if index.size and (int(index.min()) < 0 or int(index.max()) >= count):
                problems.append(f'caption index file {index_file}: indices outside [0, {count}) of {source}')
            lines.append(f'caption index file {index_path}: {index.size} rows')
    return lines, problems
