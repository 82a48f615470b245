"""Word-level outliers of TOE from a caption decoder: which tokens a step keeps, and which words survive.

Paper: S. Park, J. Mok, D. Jung, S. Lee, S. Yoon, "On the Powerfulness of Textual Outlier Exposure for Visual OoD
Detection", NeurIPS 2023, arXiv:2310.16492, Sec. 3.2 (word-level outliers): a text decoder conditioned on the CLIP
embedding of an ID image (the BERT decoder of ZOC, Esmaeilpour et al., AAAI 2022, trained on MS-COCO captions)
proposes words; those ranked just below the most likely ones are near, but not on, the ID image's content.

The algorithm as the paper describes it, with mmood's choices where the reference code departs from it
(docs/toe.md, "Word decoder"; docs/reference_deviations.md):

1. one decoder step from the start token ``<s>`` per image: the reference repeats the same step 9 times, because
   its loop never feeds a prediction back, so every repetition proposes the same tokens;
2. per image, the tokens of ranks ``rank_slice`` (ranks 31-55: ``top-55[30:]``) of that step's logits. The
   reference slices the *flattened* batch (``(B, 55) -> B*55 ids, [30:]``), which keeps ranks 31-55 only for the
   first image of each batch and all 55 ranks of the others: :func:`select_token_ids` with
   ``flatten_batch_slice=True`` reproduces that;
3. a set of token ids grown incrementally over the images (the reference re-appends its whole running list after
   every batch, which grows quadratically and cannot finish on ImageNet val);
4. each token decoded alone, lower-cased; removed: ID class names (exact match, as the reference; optionally also
   every word of a class name) and :data:`NON_SEMANTIC_WORDS`; the survivors sorted (the reference's order is
   Python's set order, which changes with the hash seed) and prompted as ``'This is a photo of a {w}'``.

Pure functions on tensors and strings; the decoder itself is :class:`mmood.models.TOEWordDecoder`.
"""
import string
from typing import Iterable, List, Optional, Sequence, Set, Tuple

import torch
from torch import Tensor

from ..utils.errors import ConfigError

__all__ = ['NON_SEMANTIC_WORDS', 'select_token_ids', 'filter_decoded_words', 'DecodedWordPool']

_TWO_LETTER = ('ae', 'af', 'al', 'an', 'ap', 'ar', 'at', 'be', 'bi', 'bl', 'bo', 'bu', 'cl', 'el', 'ep', 'fl',
               'fo', 'ge', 'go', 'gr', 'he', 'hi', 'in', 'it', 'je', 'no', 'on', 'or', 'pe', 'pi', 're', 'sc',
               'se', 'sk', 'sl', 'sm', 'so', 'st', 'tr', 'un', 'we')
#: the words dropped as non-semantic (83 strings, the reference's filter: the empty string, the 26 letters, the
#: digits 2-5, a double quote, 41 two-letter word stems and function words, and ten short words)
NON_SEMANTIC_WORDS = frozenset(
    ('', '"') + tuple(string.ascii_lowercase) + ('2', '3', '4', '5') + _TWO_LETTER
    + ('the', 'del', 'ath', 'two', 'three', 'four', 'only', 'very', 'many', 'there'))


def select_token_ids(logits: Tensor, topk: int = 55, rank_slice: Tuple[int, int] = (30, 55),
                     flatten_batch_slice: bool = False) -> Tensor:
    """Token ids of the ranks ``rank_slice`` of each row's top-``topk`` logits (paper Sec. 3.2).

    Args:
        logits (Tensor): (B, V) next-token logits, one row per image.
        topk (int): Ranked tokens per image (the reference: 55).
        rank_slice (tuple[int, int]): ``(start, stop)`` ranks kept per image, 0-based, stop exclusive (the
            reference's intent: ranks 31-55 = ``(30, 55)``).
        flatten_batch_slice (bool): Reproduce the reference's slice of the flattened batch instead: the ``(B,
            topk)`` ids row-major, then ``[start:]`` (``stop`` unused). Defaults to False.

    Returns:
        Tensor: int64 token ids (with ``flatten_batch_slice`` in the reference's order, else row by row).
    """
    start, stop = (int(v) for v in rank_slice)
    if logits.ndim != 2:
        raise ValueError(f'logits must be (B, V), got {tuple(logits.shape)}')
    if not 0 <= start < stop <= topk <= logits.shape[1]:
        raise ConfigError(f'need 0 <= rank start < stop <= topk <= vocabulary ({logits.shape[1]}), got '
                          f'rank_slice={rank_slice}, topk={topk}')
    ids = logits.float().topk(int(topk), dim=1).indices
    if flatten_batch_slice:
        return ids.reshape(-1)[start:].to(torch.int64)
    return ids[:, start:stop].reshape(-1).to(torch.int64)


def filter_decoded_words(words: Iterable[str], class_names: Sequence[str] = (),
                         stopwords: Iterable[str] = NON_SEMANTIC_WORDS, drop_class_words: bool = False) -> List[str]:
    """The decoded tokens that survive the filters, sorted and unique.

    Args:
        words (Iterable[str]): Decoded tokens (lower-cased here).
        class_names (Sequence[str]): ID class names; a token equal to one (lower-cased, exact) is dropped.
        stopwords (Iterable[str]): Non-semantic words dropped. Defaults to :data:`NON_SEMANTIC_WORDS`.
        drop_class_words (bool): Also drop tokens equal to any word of a class name (``'tiger'`` of ``'tiger
            shark'``). Defaults to False (the reference's exact match).

    Returns:
        list[str]: Sorted words.
    """
    excluded = {str(n).lower() for n in class_names} | {str(s).lower() for s in stopwords}
    if drop_class_words:
        excluded |= {w for n in class_names for w in str(n).lower().split()}
    return sorted({str(w).lower() for w in words} - excluded)


class DecodedWordPool:
    """The set of token ids proposed so far, grown batch by batch (linear in the number of images).

    Args:
        topk, rank_slice, flatten_batch_slice: as :func:`select_token_ids`.
    """

    def __init__(self, topk: int = 55, rank_slice: Tuple[int, int] = (30, 55), flatten_batch_slice: bool = False):
        self.topk, self.rank_slice, self.flatten_batch_slice = int(topk), tuple(rank_slice), bool(flatten_batch_slice)
        self.ids: Set[int] = set()
        self.images = 0

    def add(self, logits: Tensor) -> None:
        """Add the tokens of one batch's first-step logits (B, V)."""
        self.ids.update(select_token_ids(logits, self.topk, self.rank_slice, self.flatten_batch_slice).tolist())
        self.images += int(logits.shape[0])

    def words(self, decode, class_names: Sequence[str] = (), drop_class_words: bool = False,
              stopwords: Optional[Iterable[str]] = None) -> List[str]:
        """The filtered, sorted words; ``decode(id) -> str`` decodes one token alone."""
        return filter_decoded_words((decode(i) for i in sorted(self.ids)), class_names,
                                    NON_SEMANTIC_WORDS if stopwords is None else stopwords, drop_class_words)
