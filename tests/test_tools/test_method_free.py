"""No method name in ``tools/``: the tools parse arguments and call :mod:`mmood.apis`; what is specific to a method is
declared by its components (configs, models, heads), never known by a tool.

Every file under ``tools/`` -- its path and its text -- is scanned for the method names, case-insensitively, as whole
words or as parts of identifiers (``TOEClassifier``, ``configs/mcm/mcm_vitb16.py``, ``NegLabelHead``, ``plp5``); the
benchmark (``tools/analysis_tools/benchmark.py``, which times named methods) and the checkpoint converters of
published releases (``tools/model_converters/``) aside. The scanner itself is tested on hand-made text, so a method
name does fail the check.
"""
import os
import os.path as osp
import re
from typing import List

import pytest
from conftest import REPO

#: the methods whose names a tool must not know
METHOD_NAMES = ('neglabel', 'mcm', 'glmcm', 'csp', 'adaneg', 'negrefine', 'clipn', 'npos', 'toe', 'plp')
#: paths under tools/ that may name methods
EXEMPT = ('analysis_tools/benchmark.py', 'model_converters/')

_WORD = re.compile(r'[A-Za-z]+')  # digits, '_', '-', '.', '/' end a word: plp5, mcm_vitb16, GL-MCM
_CAMEL = re.compile(r'[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+')  # TOEClassifier -> TOE, Classifier


def method_names_in(text: str) -> List[str]:
    """The method names ``text`` holds, as a word or as consecutive camel-case parts of one (``NegLabel``,
    ``AdaNegHead``), case-insensitively; in order of appearance, repeated."""
    found = []
    for word in _WORD.findall(text):
        parts = [p.lower() for p in _CAMEL.findall(word)]
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                if ''.join(parts[i:j]) in METHOD_NAMES:
                    found.append(''.join(parts[i:j]))
    return found


def tool_files() -> List[str]:
    """Every file under ``tools/`` (relative paths, ``/``-separated), the exempt ones left out."""
    files = []
    for dirpath, dirnames, names in os.walk(osp.join(REPO, 'tools')):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for name in sorted(names):
            rel = osp.relpath(osp.join(dirpath, name), osp.join(REPO, 'tools')).replace(os.sep, '/')
            if not rel.startswith(EXEMPT) and not name.endswith('.pyc'):
                files.append(rel)
    return files


@pytest.mark.parametrize('text, names', [
    ('model = TOEClassifier(...)', ['toe']),
    ('python tools/test.py configs/mcm/mcm_vitb16.py', ['mcm', 'mcm']),
    ('head=dict(type="NegLabelHead")', ['neglabel']),
    ('from x import AdaNegHead, NegRefine', ['adaneg', 'negrefine']),
    ('GL-MCM and glmcm', ['mcm', 'glmcm']),
    ("CLIPN's no tower; NPOS; plp5 templates; CSP", ['clipn', 'npos', 'plp', 'csp']),
    ('tools/toe/make_outliers.py --no-clipn', ['toe', 'clipn']),
    ('the tiptoe of mcmc toes: a negative label clip', []),
])
def test_the_scanner_finds_method_names(text, names):
    assert method_names_in(text) == names


def test_the_scan_sees_the_tools():
    files = tool_files()
    assert {'train.py', 'test.py', 'verify_data.py', 'dist_test.sh'} <= set(files)
    assert 'analysis_tools/benchmark.py' not in files and not any(f.startswith('model_converters/') for f in files)


@pytest.mark.parametrize('rel', tool_files())
def test_no_method_name_in_tools(rel):
    with open(osp.join(REPO, 'tools', rel), encoding='utf-8') as f:
        text = f.read()
    found = method_names_in(rel) + method_names_in(text)
    lines = [f'{i}: {line.strip()}' for i, line in enumerate(text.splitlines(), 1) if method_names_in(line)]
    assert not found, f'tools/{rel} names methods {sorted(set(found))}:\n' + '\n'.join(lines[:20])
