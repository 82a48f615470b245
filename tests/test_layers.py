"""The package layering of mmood (docs/architecture.md): no import cycle between top-level packages, and the pure
layers import nothing above them.

Every module under ``mmood/`` is read with :mod:`ast` (nothing is imported): absolute ``mmood.x`` imports and
relative imports count, including deferred imports inside functions. Each module maps to its top-level package
(``mmood/scores/...`` -> ``scores``, ``mmood/cache.py`` -> ``cache``); ``mmood/__init__.py`` (the package root,
which imports every layer to register them) is left out. Rules:

* ``scores`` imports nothing of mmood;
* ``evaluation`` imports only ``scores``, ``utils``, ``registry``, ``_compat`` and ``cache``;
* ``cache`` imports only ``utils`` and ``_compat``;
* nothing imports ``apis``, the top layer.

The checker itself is tested on hand-built graphs and on a scratch package tree, so a violation does fail.
"""
import ast
import os
import os.path as osp
from typing import Dict, Iterator, List, Set, Tuple

import pytest

ROOT = 'mmood'
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: package -> the only mmood packages it may import
ALLOWED: Dict[str, Set[str]] = {
    'scores': set(),
    'evaluation': {'scores', 'utils', 'registry', '_compat', 'cache'},
    'cache': {'utils', '_compat'},
}
#: packages nothing else may import
TOP = {'apis'}
#: the package root's own unit (``mmood/__init__.py``)
ROOT_UNIT = '__init__'

Graph = Dict[str, Set[str]]


def iter_modules(base: str) -> Iterator[Tuple[str, str]]:
    """``(path, dotted module name)`` of every ``.py`` file under ``<base>/mmood``."""
    top = osp.join(base, ROOT)
    for dirpath, dirnames, files in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for f in sorted(files):
            if f.endswith('.py'):
                path = osp.join(dirpath, f)
                mod = osp.relpath(path, base)[:-3].replace(os.sep, '.')
                if mod.endswith('.__init__'):
                    mod = mod[:-len('.__init__')]
                yield path, mod


def imported_modules(source: str, mod: str, is_package: bool) -> Set[str]:
    """The mmood modules that ``source`` (module ``mod``) imports, anywhere in the file (functions included).

    ``from X import name`` yields ``X.name`` when ``X`` is the package root (``from mmood import scores``,
    ``from .. import text``), else ``X``.
    """
    package = mod if is_package else mod.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split('.')[0] == ROOT)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                if node.level - 1 > len(parts) - 1:
                    raise ValueError(f'{mod}: relative import beyond the top-level package')
                parts = parts[:len(parts) - (node.level - 1)]
                target = '.'.join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            if target.split('.')[0] != ROOT:
                continue
            if target == ROOT:
                found.update(f'{ROOT}.{a.name}' for a in node.names)
            else:
                found.add(target)
    return found


def unit_of(mod: str) -> str:
    """Top-level package of a dotted module name: ``mmood.models.heads.x`` -> ``models``, ``mmood`` -> root."""
    parts = mod.split('.')
    return parts[1] if len(parts) > 1 else ROOT_UNIT


def package_graph(base: str = REPO) -> Graph:
    """Package-level import graph of ``<base>/mmood``: unit -> the other units it imports."""
    graph: Graph = {}
    for path, mod in iter_modules(base):
        unit = unit_of(mod)
        if unit == ROOT_UNIT:
            continue
        with open(path, encoding='utf-8') as f:
            source = f.read()
        targets = imported_modules(source, mod, path.endswith('__init__.py'))
        graph.setdefault(unit, set()).update(t for t in map(unit_of, targets) if t != unit)
    return graph


def find_cycles(graph: Graph) -> List[List[str]]:
    """Strongly connected components with more than one package (each is an import cycle), sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    cycles: List[List[str]] = []
    nodes = sorted(set(graph) | {v for vs in graph.values() for v in vs})

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(cycles)


def forbidden_edges(graph: Graph) -> List[str]:
    """Every edge that breaks :data:`ALLOWED` or :data:`TOP`, as readable lines."""
    bad = []
    for unit, allowed in sorted(ALLOWED.items()):
        extra = graph.get(unit, set()) - allowed
        if extra:
            bad.append(f'{unit} imports {sorted(extra)} (allowed: {sorted(allowed)})')
    for unit, targets in sorted(graph.items()):
        for top in sorted(TOP & targets):
            bad.append(f'{unit} imports {top} (the top layer)')
    return bad


# ---------------------------------------------------------------------------------------------- the real package
@pytest.fixture(scope='module')
def graph():
    return package_graph(REPO)


def test_graph_is_read(graph):
    # a few edges that exist, so an empty or broken walk cannot pass silently
    assert {'scores', 'text', 'models', 'evaluation', 'cache', 'apis'} <= set(graph)
    assert 'scores' in graph['models'] and 'cache' in graph['text']


def test_no_cycles_between_packages(graph):
    assert find_cycles(graph) == [], 'import cycles between mmood packages'


def test_no_forbidden_imports(graph):
    assert forbidden_edges(graph) == []


# ---------------------------------------------------------------------------------------------- the checker
def test_find_cycles_on_hand_built_graphs():
    assert find_cycles({'a': {'b'}, 'b': {'c'}, 'c': set()}) == []
    assert find_cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert find_cycles({'a': {'b'}, 'b': {'a'}, 'c': {'d'}, 'd': {'c'}}) == [['a', 'b'], ['c', 'd']]


def test_forbidden_edges_on_hand_built_graphs():
    ok = {'scores': set(), 'evaluation': {'scores', 'utils'}, 'cache': {'utils'}, 'models': {'scores', 'cache'},
          'apis': {'models'}}
    assert forbidden_edges(ok) == []
    bad = dict(ok, scores={'utils'}, evaluation={'scores', 'models'}, cache={'text'}, engine={'apis'})
    assert forbidden_edges(bad) == [
        "cache imports ['text'] (allowed: ['_compat', 'utils'])",
        "evaluation imports ['models'] (allowed: ['_compat', 'cache', 'registry', 'scores', 'utils'])",
        "scores imports ['utils'] (allowed: [])",
        'engine imports apis (the top layer)',
    ]


def test_imported_modules_forms():
    src = '\n'.join([
        'import os',
        'import mmood.text.corpus',
        'from mmood import scores, cache',
        'from mmood.utils import compute_on_main',
        'from . import neighbour',
        'from .. import features',
        'from ...models.heads import base',
        'def f():',
        '    from ...evaluation import functional  # deferred',
        '    import numpy',
    ])
    found = imported_modules(src, 'mmood.datasets.sub.mod', is_package=False)
    assert found == {'mmood.text.corpus', 'mmood.scores', 'mmood.cache', 'mmood.utils', 'mmood.datasets.sub',
                     'mmood.datasets', 'mmood.models.heads', 'mmood.evaluation'}
    # in a package's __init__, one dot is the package itself
    assert imported_modules('from .x import y\nfrom .. import text', 'mmood.scores', is_package=True) == {
        'mmood.scores.x', 'mmood.text'}


def _write(base, rel, text=''):
    path = osp.join(str(base), *rel.split('/'))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def test_scratch_tree_with_an_upward_import_fails(tmp_path):
    """A scratch mmood tree: clean first; then a deferred upward import in scores makes both checks fail."""
    _write(tmp_path, 'mmood/__init__.py', 'from . import apis, models, scores\n')
    _write(tmp_path, 'mmood/scores/__init__.py', 'from .mcm import mcm_score\n')
    _write(tmp_path, 'mmood/scores/mcm.py', 'import torch\n\ndef mcm_score(x):\n    return x\n')
    _write(tmp_path, 'mmood/models/__init__.py', 'from ..scores import mcm_score\nfrom mmood.cache import get\n')
    _write(tmp_path, 'mmood/cache.py', 'from .utils import helper\n')
    _write(tmp_path, 'mmood/utils/__init__.py', 'def helper():\n    pass\n')
    _write(tmp_path, 'mmood/apis/__init__.py', 'from ..models import mcm_score\n')
    clean = package_graph(str(tmp_path))
    assert clean == {'scores': set(), 'models': {'scores', 'cache'}, 'cache': {'utils'}, 'utils': set(),
                     'apis': {'models'}}
    assert find_cycles(clean) == [] and forbidden_edges(clean) == []

    _write(tmp_path, 'mmood/scores/mcm.py', 'def mcm_score(x):\n    from ..models import helper\n    return x\n')
    broken = package_graph(str(tmp_path))
    assert find_cycles(broken) == [['models', 'scores']]
    assert forbidden_edges(broken) == ["scores imports ['models'] (allowed: [])"]

    _write(tmp_path, 'mmood/utils/__init__.py', 'import mmood.apis\n')
    assert 'utils imports apis (the top layer)' in forbidden_edges(package_graph(str(tmp_path)))
