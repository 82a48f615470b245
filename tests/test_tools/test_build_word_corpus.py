"""tools/dataset_converters/build_word_corpus.py on the command line: arguments to :func:`mmood.apis.build_word_corpus`
(the generator itself: tests/test_text/test_wordnet_corpus.py)."""
import re
import subprocess
import sys

import pytest
from conftest import REPO, load_tool

TOOL = 'dataset_converters/build_word_corpus'


def _fake_wordnet(root):
    """The WordNet files nltk's reader needs, in WordNet's format: one noun.act synset, one adj.all synset (a synset
    line starts with its byte offset; the index lists each lemma's synsets; lexnames are numbered without gaps)."""
    root.mkdir()
    header = '  1 WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.  \n'
    offset = f'{len(header):08d}'
    files = {
        'lexnames': '00\tadj.all\t3\n01\tnoun.act\t1\n',
        'data.noun': f'{header}{offset} 01 n 02 Act 0 deed 0 000 | something done  \n',
        'data.adj': f'{header}{offset} 00 a 01 able 0 000 | having the means  \n',
        'index.noun': f'act n 1 0 1 0 {offset}  \ndeed n 1 0 1 0 {offset}  \n',
        'index.adj': f'able a 1 0 1 0 {offset}  \n',
    }
    for name in ('index.verb', 'index.adv', 'noun.exc', 'verb.exc', 'adj.exc', 'adv.exc'):
        files[name] = ''
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_command_line_writes_the_corpus(tmp_path):
    wordnet = _fake_wordnet(tmp_path / 'wordnet')
    out_dir = tmp_path / 'corpus'
    result = subprocess.run([sys.executable, f'{REPO}/tools/{TOOL}.py', '--wordnet-dir', str(wordnet),
                             '--out-dir', str(out_dir)], capture_output=True, text=True, check=True, cwd=REPO)
    assert re.search(r'total\s+2\b', result.stdout), result.stdout
    assert (out_dir / 'noun.act.txt').read_text() == 'act\n' and (out_dir / 'adj.all.txt').read_text() == 'able\n'


def test_missing_wordnet_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_tool(TOOL).main(['--wordnet-dir', str(tmp_path / 'none'), '--out-dir', str(tmp_path / 'out')])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {tmp_path / "none"} is not a WordNet 3.0 data folder (the folder does not exist;')
    assert err.count('\n') == 1 and 'pip install -e ".[wordnet]"' in err and "nltk.download('wordnet')" in err
    assert 'lexnames, data.noun, data.adj, index.noun' in err
