"""tools/dataset_converters/build_word_corpus.py on the command line: arguments to :func:`mmood.apis.build_word_corpus`
(the generator itself: tests/test_text/test_wordnet_corpus.py)."""
import re
import subprocess
import sys

import pytest
from conftest import REPO, load_tool

TOOL = 'dataset_converters/build_word_corpus'


def _fake_wordnet(root):
    """lexnames + data.noun + data.adj in WordNet's format: one noun.act synset, one adj.all synset."""
    root.mkdir()
    (root / 'lexnames').write_text('00\tadj.all\t3\n04\tnoun.act\t1\n')
    (root / 'data.noun').write_text('  1 header line\n00002137 04 n 02 Act 0 deed 0 000 | something done\n')
    (root / 'data.adj').write_text('  1 header line\n00001740 00 a 01 able 0 000 | having the means\n')
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
    assert capsys.readouterr().err.startswith(f'error: {tmp_path / "none"} is not a WordNet 3.0 data folder')
