"""Reading a NegLabel word corpus: one file per WordNet lexicographer file, one word per line.

The part of speech is the file name before its first dot (``noun.act.txt`` -> ``noun``); only ``noun`` and
``adj`` files are used. Files are read in **sorted** name order (NL-5: the reference used
``os.listdir`` order), words are stripped and de-duplicated globally across both parts of speech, first seen
wins (so the sorted order, which puts ``adj.*`` first, decides ownership of words that are both).

``replace_underscores=True`` first turns every ``_`` of a line into a space, as CSP's and NegRefine's candidate-pool
loops do (CSP: ``mmcls/models/classifiers/multi_modal.py``, ``CLIPScalableClassifier.__init__``; NegRefine:
``src/create_negs.py``, ``create_initial_negative_labels``): WordNet's ``ice_cream`` becomes ``ice cream`` before the
strip and the global de-duplication, so ``ice_cream`` and ``ice cream`` are one candidate. NegLabel's own loop keeps
underscores, hence the default False.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from .class_names import resolve_path

PARTS_OF_SPEECH = ('noun', 'adj')


#: which part of speech owns a word found in both (``load_corpus(priority=...)``)
PRIORITIES = ('sorted', 'noun')


def load_corpus(corpus_dir: str, exclude_files: Optional[Sequence[str]] = None,
                priority: str = 'sorted', replace_underscores: bool = False) -> Tuple[List[str], List[str]]:
    """Read nouns and adjectives from ``corpus_dir``.

    Args:
        corpus_dir: directory of ``<pos>.<lexname>.txt`` files.
        exclude_files: file names to skip (the reference's ``txt_exclude``).
        priority: who owns a word that is both a noun and an adjective: ``'sorted'`` -- the first file in sorted
            order (``adj.*`` before ``noun.*``: the adjective; NegLabel, CSP); ``'noun'`` -- the noun files are
            read first (AdaNeg drops adjectives that are also nouns).
        replace_underscores: replace ``_`` by a space in every line before stripping and de-duplicating (CSP,
            NegRefine); False keeps the lines as they are (NegLabel).

    Returns:
        ``(nouns, adjectives)``, each in file-then-line order, globally de-duplicated.

    Raises:
        FileNotFoundError: the directory does not exist or has no noun/adjective file.
    """
    path = resolve_path(corpus_dir)
    if not osp.isdir(path):
        raise FileNotFoundError(f'Word corpus directory not found: {corpus_dir} (option `corpus_dir`)')
    exclude = set(exclude_files or ())
    words = {pos: [] for pos in PARTS_OF_SPEECH}
    seen = set()
    files = [f for f in sorted(os.listdir(path)) if f not in exclude and f.split('.')[0] in PARTS_OF_SPEECH
             and osp.isfile(osp.join(path, f)) and f.endswith('.txt')]
    if not files:
        raise FileNotFoundError(f'No noun.*.txt / adj.*.txt files in {corpus_dir} (option `corpus_dir`)')
    if priority not in PRIORITIES:
        raise ValueError(f'priority must be one of {PRIORITIES}, got {priority!r}')
    if priority == 'noun':
        files = sorted(files, key=lambda f: f.split('.')[0] != 'noun')  # stable: sorted within each part
    for name in files:
        pos = name.split('.')[0]
        with open(osp.join(path, name), encoding='utf-8') as f:
            for line in f:
                w = (line.replace('_', ' ') if replace_underscores else line).strip()
                if w and w not in seen:
                    seen.add(w)
                    words[pos].append(w)
    return words['noun'], words['adj']
