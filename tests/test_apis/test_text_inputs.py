"""mmood.apis.checks.text_input_checks: the text inputs a model config declares, checked generically -- the inputs
each head declares (``BaseOODHead.text_inputs``), the sources the model options name -- without encoding anything;
tools/verify_data.py prints them."""
import json

import pytest
from conftest import make_corpus

from mmood.apis import head_text_inputs, text_input_checks, verify_data
from mmood.models.heads import BaseOODHead, MCMHead, NegLabelHead


class _FileHead(BaseOODHead):
    """A head that reads one word list (a stand-in for any head with text inputs)."""

    def __init__(self, words='words.txt', **kwargs):
        super().__init__(**kwargs)
        self.words = words
        self.score_names = ('file_head', )

    def text_inputs(self):
        def check():
            try:
                with open(self.words) as f:
                    return [f'words {self.words}: {len(f.read().split())} entries'], []
            except OSError:
                return [], [f'word list not found: {self.words}']
        return [('word list', check)]


def test_a_head_declares_what_it_reads(tmp_path):
    words = tmp_path / 'words.txt'
    words.write_text('kite\nlamp\n')
    model = dict(head=dict(type=MCMHead), extra_heads=[dict(type=_FileHead, words=str(words))])
    checks = text_input_checks(model)
    assert len(checks) == 1  # MCM reads no text file: nothing to check
    title, lines, problems = checks[0]
    assert title.startswith('model.extra_heads[0] (') and title.endswith(') word list')
    assert lines == [f'words {words}: 2 entries'] and problems == []
    model['extra_heads'][0]['words'] = str(tmp_path / 'none.txt')
    assert text_input_checks(model)[0][2] == [f'word list not found: {tmp_path / "none.txt"}']
    assert MCMHead().text_inputs() == []  # the default: nothing declared


def test_negative_label_heads_report_their_corpus(tmp_path):
    corpus = make_corpus(str(tmp_path / 'corpus'))
    head = NegLabelHead(mining=dict(corpus_dir=corpus))
    (what, check), = head_text_inputs(head)
    lines, problems = check()
    assert what == 'text inputs' and problems == [] and lines[0].startswith(f'corpus {corpus}: ')
    checks = text_input_checks(dict(head=dict(type='NegLabelHead', mining=dict(corpus_dir=str(tmp_path / 'none')))))
    assert checks[0][0] == 'model.head (NegLabelHead) text inputs'
    assert checks[0][2] == [f'word corpus folder not found: {tmp_path / "none"} (option `corpus_dir`; '
                            'tools/dataset_converters/build_word_corpus.py writes it)']


def test_model_options_that_name_sources(tmp_path):
    source = tmp_path / 'descriptors.json'
    source.write_text(json.dumps({'tench': ['a freshwater fish', 'olive green']}))
    model = dict(type='TOEClassifier', outliers=dict(level='description', source=str(source)))
    (title, lines, problems), = text_input_checks(model)  # declared by the model class (config_text_inputs)
    assert title == 'model.outliers' and problems == [] and '2 entries' in lines[0]
    model['outliers']['source'] = str(tmp_path / 'x.json')
    (_, _, problems), = text_input_checks(model)
    assert problems and 'outlier source not found' in problems[0]
    assert text_input_checks(dict(type='CLIPOODClassifier', outliers=model['outliers'])) == []  # not its option


def test_heads_that_cannot_be_built():
    model = dict(head=dict(type='NegLabelHead', tua=1.0))
    with pytest.raises(Exception, match='tua'):
        text_input_checks(model)
    (where, lines, problems), = text_input_checks(model, catch_build_errors=True)
    assert where == 'model.head' and lines == [] and 'cannot build NegLabelHead' in problems[0]


def test_verify_data_prints_the_declared_inputs(tmp_path, capsys):
    config = tmp_path / 'words.py'
    missing = str(tmp_path / 'none')
    config.write_text(f"model = dict(head=dict(type='NegLabelHead', mining=dict(corpus_dir={missing!r})))\n")
    assert verify_data(str(config)) == 1
    out = capsys.readouterr().out
    assert '== model.head (NegLabelHead) text inputs' in out and 'word corpus folder not found' in out
    assert out.rstrip().endswith('data missing or unreadable: see above (README "Data" describes the layout)')
