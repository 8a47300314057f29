"""The package's layers point down only, nothing is patched or loaded at
import beyond what a layer needs, and no module outside the task presets
and the published dataset layouts tests a task's name."""
import ast
import glob
import os.path as osp
import subprocess
import sys
from typing import Dict, Set

import pytest

from conftest import REPO
from mmsquad.tasks import TASK_PRESETS

PACKAGE = osp.join(REPO, 'mmsquad')

#: Top-level parts of the package, bottom first; a part may import from
#: itself and from lower layers only.
LAYERS = [
    {'registry', 'version', 'functional', 'structures', 'utils'},
    {'tasks'},
    {'datasets', 'models', 'evaluation', 'visualization'},
    {'engine', 'deployment'},
    {'apis'},
]
LAYER_OF = {part: i for i, parts in enumerate(LAYERS) for part in parts}

#: Where task names may appear in code: the presets, and the published
#: dataset layouts (which files hold which task).
NAMES_ALLOWED_IN = {
    'tasks/presets.py', 'datasets/pascal_context_mt.py',
    'datasets/nyud_v2_mt.py', 'datasets/underwater_mt.py',
}


def _module_name(path: str) -> str:
    rel = osp.relpath(path, REPO)[:-len('.py')].replace(osp.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def import_graph() -> Dict[str, Set[str]]:
    """``{module: mmsquad modules it imports at import time}`` (statements
    at module level, relative imports resolved; a package import also
    counts as importing the package)."""
    graph = {}
    for path in glob.glob(osp.join(PACKAGE, '**', '*.py'), recursive=True):
        name = _module_name(path)
        package = name if path.endswith('__init__.py') else \
            name.rpartition('.')[0]
        targets = set()
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    parent = package.split('.')
                    parent = parent[:len(parent) - node.level + 1]
                    base = '.'.join(parent + ([base] if base else []))
                targets.add(base)
                targets |= {f'{base}.{a.name}' for a in node.names}
        # importing a.b.c imports the packages a.b and a too
        targets |= {'.'.join(t.split('.')[:i]) for t in targets
                    for i in range(2, t.count('.') + 1)}
        graph[name] = {t for t in targets if t.startswith('mmsquad.')}
    modules = set(graph)
    return {m: {t for t in ts if t in modules and t != m}
            for m, ts in graph.items()}


def _part(module: str) -> str:
    return module.split('.')[1] if module.count('.') else ''


def test_layers_point_down_only():
    wrong = []
    for module, targets in import_graph().items():
        for target in targets:
            src, dst = _part(module), _part(target)
            if src and dst and src != dst and \
                    LAYER_OF[dst] >= LAYER_OF[src]:
                wrong.append(f'{module} -> {target}')
    assert not wrong, 'imports that do not point down:\n' + '\n'.join(
        sorted(wrong))


def test_every_part_has_a_layer():
    parts = {_part(m) for m in import_graph() if _part(m)}
    assert parts == set(LAYER_OF), 'place new parts in LAYERS'


def test_no_import_cycle():
    graph = import_graph()
    visiting, done = [], set()

    def visit(module):
        if module in done:
            return
        assert module not in visiting, 'import cycle: ' + ' -> '.join(
            visiting[visiting.index(module):] + [module])
        visiting.append(module)
        for target in sorted(graph[module]):
            # a module importing its own package's __init__ is how Python
            # loads it; only the package's other modules form cycles
            if not module.startswith(target + '.'):
                visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


@pytest.mark.parametrize('imported, absent', [
    ('mmsquad.models', ('mmsquad.engine', 'mmsquad.apis',
                        'mmsquad.datasets')),
    ('mmsquad.datasets', ('mmsquad.visualization', 'mmsquad.models',
                          'mmsquad.engine')),
    ('mmsquad.tasks', ('mmsquad.models', 'mmsquad.datasets',
                       'mmsquad.evaluation', 'mmsquad.visualization')),
])
def test_a_layer_loads_nothing_above_it(imported, absent):
    loaded = _loaded_after(f'import {imported}')
    assert not [m for m in absent if m in loaded]


def test_register_all_modules_leaves_the_inferencer_alone():
    loaded = _loaded_after('from mmsquad.utils import register_all_modules; '
                           'register_all_modules()')
    assert 'mmsquad.engine' in loaded and 'mmsquad.apis' not in loaded


def _loaded_after(statement: str) -> Set[str]:
    out = subprocess.run(
        [sys.executable, '-c',
         f'{statement}; import sys; print("\\n".join(sys.modules))'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def _code_strings(path: str):
    """The string literals (not docstrings), keyword argument names and
    attribute names of a file."""
    tree = ast.parse(open(path).read())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(
                    node.body[0].value, ast.Constant):
            docstrings.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            yield node.lineno, node.value
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.value.lineno, node.arg
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr


def test_no_module_tests_a_task_name():
    names = set(TASK_PRESETS) | {f'{field}_{name}' for name in TASK_PRESETS
                                 for field in ('gt', 'pred')}
    found = []
    for path in glob.glob(osp.join(PACKAGE, '**', '*.py'), recursive=True):
        rel = osp.relpath(path, PACKAGE)
        if rel.replace(osp.sep, '/') in NAMES_ALLOWED_IN:
            continue
        found += [f'{rel}:{line} {value!r}'
                  for line, value in _code_strings(path) if value in names]
    assert not found, 'task names in code:\n' + '\n'.join(found)


def test_the_name_check_finds_names():
    """The check above is not blind: it sees the presets' names."""
    strings = {v for _, v in _code_strings(
        osp.join(PACKAGE, 'tasks', 'presets.py'))}
    assert set(TASK_PRESETS) <= strings

