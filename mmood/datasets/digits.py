"""scikit-learn's 8x8 handwritten digits as an offline image-caption training set and an ID/OOD benchmark.

scikit-learn ships the 1,797 digits (about 180 per class, 8x8 pixels with values 0..16) inside the wheel, so
these datasets need no download and no files: images are built in memory.

* :class:`DigitsCaptionDataset` -- image-caption pairs for CLIP-style contrastive training. Each image is
  upsampled to ``image_size`` (bilinear), scaled to 0..255 and repeated over 3 channels (uint8, HWC; BGR and RGB
  coincide for grey images, so the CLIP data preprocessor's ``to_rgb`` is harmless). Every sample carries all
  caption variants of its digit in ``captions``; the :class:`RandomCaption` transform picks one per sample per
  epoch into ``text``, which ``PackInputs(algorithm_keys=('text', ))`` hands to the model.
* :class:`DigitsOODDataset` -- the held-out test split as an :class:`~mmood.datasets.OODEvalDataset`: ID =
  ``id_digits`` (labels 0..K-1 in that order), a near-OOD set of other digits and a far-OOD set of seeded noise
  images in the same 8x8 format.

Train/test split: one seeded, stratified split of **all ten digits** (:func:`digits_split`), so the ID test
images and the OOD digit images are never seen in training whatever ``digits`` the training set keeps.
"""
import functools
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS, TRANSFORMS

from .ood_eval import OODEvalDataset

DIGIT_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')

#: Caption templates; ``{word}`` is the digit's English name, ``{num}`` its numeral.
CAPTION_TEMPLATES = (
    'a photo of the digit {word}',
    'handwritten {num}',
    'the number {word}',
    'a drawing of a {num}',
    'a handwritten {word}',
    'the digit {num}',
    'an image of the number {word}',
    'a scan of a handwritten {word}',
)

#: Class-prompt templates that use the English name only (zero-shot prompts for the demo configs).
WORD_PROMPTS = ('a photo of the digit {}', 'the number {}', 'a handwritten {}')

_MAX_PIXEL = 16.0  # sklearn digits hold 0..16


def digit_captions(digit: int, templates: Sequence[str] = CAPTION_TEMPLATES) -> List[str]:
    """All captions of one digit, one per template.

    Args:
        digit: 0..9.
        templates: caption templates with ``{word}`` and/or ``{num}`` fields.

    Returns:
        List of captions, in template order.
    """
    if not 0 <= int(digit) <= 9:
        raise ValueError(f'digit must lie in 0..9, got {digit}')
    return [t.format(word=DIGIT_WORDS[digit], num=str(digit)) for t in templates]


@functools.lru_cache(maxsize=1)
def _load_digits() -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    data = load_digits()
    images = data.images.astype(np.float32)
    images.setflags(write=False)
    targets = data.target.astype(np.int64)
    targets.setflags(write=False)
    return images, targets


def digits_split(split: str = 'train', split_seed: int = 0, test_size: float = 0.3) -> np.ndarray:
    """Indices (into sklearn's 1,797 digits, ascending) of one side of a seeded, stratified split.

    The split is made once over all ten digits, so train and test are disjoint and every digit keeps the same
    share in both.

    Args:
        split: ``'train'`` or ``'test'``.
        split_seed: seed of the split.
        test_size: fraction of every digit held out for ``'test'``.

    Returns:
        Sorted int64 index array.
    """
    if split not in ('train', 'test'):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f'test_size must lie in (0, 1), got {test_size}')
    from sklearn.model_selection import train_test_split
    _, targets = _load_digits()
    train_idx, test_idx = train_test_split(np.arange(len(targets)), test_size=test_size, stratify=targets,
                                           random_state=split_seed, shuffle=True)
    return np.sort(train_idx if split == 'train' else test_idx).astype(np.int64)


def to_image(pixels: np.ndarray, image_size: int = 32) -> np.ndarray:
    """An 8x8 array of 0..16 values as an ``image_size`` square, 3-channel uint8 image (HWC, 0..255).

    Args:
        pixels: (8, 8) float array with values in [0, 16].
        image_size: output side; bilinear upsampling.

    Returns:
        (image_size, image_size, 3) uint8 array, all channels equal.
    """
    from PIL import Image
    grey = np.clip(np.asarray(pixels, dtype=np.float32) * (255.0 / _MAX_PIXEL), 0, 255)
    img = Image.fromarray(np.round(grey).astype(np.uint8), mode='L')
    if img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))


def noise_pixels(num: int, seed: int = 0) -> np.ndarray:
    """Seeded 8x8 noise patterns in the digits' value range (uniform 0..16 per pixel).

    Returns:
        (num, 8, 8) float32 array.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, int(_MAX_PIXEL) + 1, size=(num, 8, 8)).astype(np.float32)


def _check_digits(digits: Sequence[int], option: str) -> Tuple[int, ...]:
    digits = tuple(int(d) for d in digits)
    if not digits or len(set(digits)) != len(digits) or any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f'`{option}` must be distinct digits in 0..9, got {digits}')
    return digits


@DATASETS.register_module()
class DigitsCaptionDataset(BaseDataset):
    """Image-caption pairs from scikit-learn's handwritten digits (in memory, offline).

    Each sample is a dict with ``img`` (uint8 HWC, 3 equal channels), ``gt_label`` (index of its digit in
    ``digits``), ``digit`` (0..9), ``captions`` (every template filled in for its digit), ``text`` (the
    fixed first caption, replaced per epoch by :class:`RandomCaption` when the pipeline has it), ``img_path``
    (a pseudo path ``digits/<split>/<index>.png``; ``index`` = position in sklearn's array) and ``sample_idx``.

    Args:
        digits: digits to keep; their order defines the class labels.
        split: ``'train'`` or ``'test'`` side of :func:`digits_split`.
        split_seed: seed of the stratified split.
        test_size: held-out fraction per digit.
        image_size: side of the square output image.
        templates: caption templates (``{word}``, ``{num}`` fields).
        pipeline: data pipeline (e.g. ``RandomCaption`` then ``PackInputs(algorithm_keys=('text', ))``).
        test_mode: mmengine's test mode flag.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 digits: Sequence[int] = (0, 1, 2, 3, 4),
                 split: str = 'train',
                 split_seed: int = 0,
                 test_size: float = 0.3,
                 image_size: int = 32,
                 templates: Sequence[str] = CAPTION_TEMPLATES,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs):
        self.digits = _check_digits(digits, 'digits')
        self.split = split
        self.split_seed = split_seed
        self.test_size = test_size
        self.image_size = int(image_size)
        self.templates = tuple(templates)
        if not self.templates:
            raise ValueError('`templates` is empty')
        metainfo = dict(classes=tuple(DIGIT_WORDS[d] for d in self.digits))
        self.epoch = 0
        super().__init__(metainfo=metainfo, pipeline=pipeline, test_mode=test_mode, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """The training epoch (set by :class:`~mmood.engine.DatasetEpochHook`): samples carry it, so per-epoch
        random choices (:class:`RandomCaption`) are the same in any process layout and after a resume."""
        self.epoch = int(epoch)

    def get_data_info(self, idx: int) -> dict:
        return dict(super().get_data_info(idx), epoch=self.epoch)

    def load_data_list(self) -> List[dict]:
        images, targets = _load_digits()
        label_of = {d: i for i, d in enumerate(self.digits)}
        data_list = []
        for idx in digits_split(self.split, self.split_seed, self.test_size):
            digit = int(targets[idx])
            if digit not in label_of:
                continue
            captions = digit_captions(digit, self.templates)
            data_list.append(dict(img=to_image(images[idx], self.image_size), gt_label=label_of[digit],
                                  digit=digit, captions=captions, text=captions[0],
                                  img_path=f'digits/{self.split}/{int(idx)}.png'))
        return data_list


@TRANSFORMS.register_module()
class RandomCaption(BaseTransform):
    """Pick one caption per sample (and per epoch) from ``results[captions_key]`` into ``results[text_key]``.

    The draw for a sample in epoch ``e`` comes from a generator seeded by ``(seed, sample_idx, e)``: the same
    captions whichever process or worker loads the sample, so training under 2 processes sees the captions of one
    process, and a resumed run those of an uninterrupted one (numpy's global RNG, which this replaced, differs per
    rank, and workers re-seeded every epoch repeated their draws). The epoch comes with the sample
    (``results['epoch']``, :meth:`DigitsCaptionDataset.set_epoch` through :class:`~mmood.engine.DatasetEpochHook`);
    without it the n-th draw for a sample counts as epoch n.

    Args:
        captions_key: key of the list of candidate captions.
        text_key: key the chosen caption is written to.
        seed: seed of the draws.
    """

    def __init__(self, captions_key: str = 'captions', text_key: str = 'text', seed: int = 0):
        self.captions_key = captions_key
        self.text_key = text_key
        self.seed = int(seed)
        self.draws: Dict[int, int] = {}

    def transform(self, results: Dict) -> Dict:
        captions = results[self.captions_key]
        if isinstance(captions, str):
            captions = [captions]
        if not captions:
            raise ValueError(f'Sample {results.get("img_path", "?")} has no caption')
        index = int(results.get('sample_idx', -1))
        epoch = results.get('epoch')
        if epoch is None:
            epoch = self.draws.get(index, 0)
            self.draws[index] = epoch + 1
        rng = np.random.default_rng([self.seed, index + 1, int(epoch)])
        results[self.text_key] = captions[int(rng.integers(len(captions)))]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(captions_key={self.captions_key!r}, text_key={self.text_key!r})'


@DATASETS.register_module()
class DigitsOODDataset(OODEvalDataset):
    """Held-out digits as an ID/OOD benchmark, in memory, with :class:`OODEvalDataset`'s conventions.

    Sets (``set_id`` in this order): ID = the test split of ``id_digits`` (``gt_label`` = position in
    ``id_digits``), near-OOD ``ood_name`` = the test split of ``ood_digits``, far-OOD ``noise_name`` =
    ``num_noise`` seeded noise images (:func:`noise_pixels`, same 8x8 format; left out when ``num_noise=0``).
    Samples carry ``img``, ``gt_label`` (-1 for OOD), ``set_id``, ``is_ood``, ``img_path`` (pseudo paths
    ``digits/test/<index>.png`` and ``noise/<i>.png``) and ``sample_idx``; metainfo holds ``classes``,
    ``set_names`` and ``set_groups``, so :class:`~mmood.evaluation.OODMetric` and the results hook work as with
    image folders.

    Args:
        id_digits: ID digits; their order defines the labels.
        ood_digits: near-OOD digits (must not overlap ``id_digits``).
        num_noise: number of noise images (far OOD).
        noise_seed: seed of the noise images.
        class_names: ID class names (default: the digits' English names, e.g. ``'zero'``).
        split: split side used for the ID and OOD digits (``'test'``: never seen in training).
        split_seed: seed of the stratified split (must match the training set's).
        test_size: held-out fraction per digit.
        image_size: side of the square images.
        id_name: name of the ID set.
        ood_name: name of the near-OOD digit set.
        noise_name: name of the noise set.
        pipeline: data pipeline (no loading step: ``img`` is already there).
        max_per_set: keep only the first N samples of each set.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 id_digits: Sequence[int] = (0, 1, 2, 3, 4),
                 ood_digits: Sequence[int] = (5, 6, 7, 8, 9),
                 num_noise: int = 200,
                 noise_seed: int = 0,
                 class_names: Optional[Sequence[str]] = None,
                 split: str = 'test',
                 split_seed: int = 0,
                 test_size: float = 0.3,
                 image_size: int = 32,
                 id_name: str = 'digits 0-4',
                 ood_name: str = 'digits 5-9',
                 noise_name: str = 'noise',
                 pipeline: Sequence = (),
                 max_per_set: Optional[int] = None,
                 **kwargs):
        self.id_digits = _check_digits(id_digits, 'id_digits')
        self.ood_digits = _check_digits(ood_digits, 'ood_digits') if ood_digits else ()
        overlap = set(self.id_digits) & set(self.ood_digits)
        if overlap:
            raise ValueError(f'`ood_digits` overlap `id_digits`: {sorted(overlap)}')
        if num_noise < 0:
            raise ValueError(f'num_noise must be >= 0, got {num_noise}')
        self.num_noise = int(num_noise)
        self.noise_seed = noise_seed
        self.split = split
        self.split_seed = split_seed
        self.test_size = test_size
        self.image_size = int(image_size)
        ood_sets = []
        if self.ood_digits:
            ood_sets.append(dict(name=ood_name, group='near'))
        if self.num_noise:
            ood_sets.append(dict(name=noise_name, group='far'))
        if class_names is None:
            class_names = [DIGIT_WORDS[d] for d in self.id_digits]
        if len(class_names) != len(self.id_digits):
            raise ValueError(f'{len(class_names)} class names for {len(self.id_digits)} ID digits '
                             f'(options `class_names`, `id_digits`)')
        super().__init__(id_set=dict(name=id_name), ood_sets=ood_sets, class_names=class_names,
                         pipeline=pipeline, max_per_set=max_per_set, **kwargs)

    def load_data_list(self) -> List[dict]:
        images, targets = _load_digits()
        index = digits_split(self.split, self.split_seed, self.test_size)
        label_of = {d: i for i, d in enumerate(self.id_digits)}
        sets = [[], [], []]  # ID, OOD digits, noise
        for idx in index:
            digit = int(targets[idx])
            if digit in label_of:
                sets[0].append((images[idx], label_of[digit], f'digits/{self.split}/{int(idx)}.png'))
            elif digit in self.ood_digits:
                sets[1].append((images[idx], -1, f'digits/{self.split}/{int(idx)}.png'))
        sets[2] = [(p, -1, f'noise/{i}.png') for i, p in enumerate(noise_pixels(self.num_noise, self.noise_seed))]
        sets = [sets[0]] + [s for s, keep in ((sets[1], bool(self.ood_digits)), (sets[2], bool(self.num_noise)))
                            if keep]
        data_list = []
        for set_id, samples in enumerate(sets):
            if self.max_per_set:
                samples = samples[:self.max_per_set]
            data_list.extend(dict(img=to_image(pixels, self.image_size), gt_label=int(label), set_id=set_id,
                                  is_ood=int(set_id > 0), img_path=path) for pixels, label, path in samples)
        return data_list
