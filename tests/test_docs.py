"""Every command and config block of the README and of docs/ is run or
loaded, so that a guide cannot rot.

A block's mode is the HTML comment just above it:

- none, on a ``bash`` block: every command is *loaded*: ``make`` targets
  exist (``make -n``), a Python script answers ``--help`` and takes every
  option the command gives, a launcher script exists, and every config it
  names loads;
- ``<!-- docs-test: run [expect="..."] -->``: the block runs (``bash -e``,
  or ``python`` for a Python block) in a sandbox holding the repository's
  tools, configs and environment, where the blocks before it ran (the
  README's quick start renders the demo data and trains the checkpoint the
  guides use); ``expect`` must appear in its output;
- ``<!-- docs-test: config PATH -->``: a whole config, written to ``PATH``
  in the sandbox; it loads, its model builds, and its model, datasets and
  metric agree on tasks;
- ``<!-- docs-test: fragment BASE -->``: a config fragment, loaded on top
  of the shipped config ``BASE``; its model builds;
- ``<!-- docs-test: module PATH -->``: a Python module of the user's,
  written to ``PATH`` in the sandbox (later run blocks import it).

``text`` blocks (folder layouts) are not code. The README's key-results
table quotes docs/demo_results.json.
"""
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
from typing import List, NamedTuple

import pytest
from mmengine.config import Config

from conftest import REPO
from mmsquad.datasets import configured_tasks
from mmsquad.engine.hooks.task_agreement_hook import (model_task_configs,
                                                      task_disagreements)
from mmsquad.registry import METRICS, MODELS
from mmsquad.utils.config import read_config

#: The documents, in the order their run blocks build on each other.
DOCUMENTS = ['README.md'] + [osp.join('docs', name) for name in (
    'get_started.md', 'train_test.md', 'datasets.md', 'mixing.md',
    'own_tasks.md', 'underwater.md', 'gradient_methods.md',
    'crash_safety.md', 'inference_export.md', 'benchmarks.md', 'design.md',
    'grad_conflict.md', 'optim_methods.md')]
FENCE = re.compile(r'(?:<!-- docs-test: (?P<mode>[^>]*?) -->\n)?'
                   r'```(?P<lang>\w*)\n(?P<body>.*?)\n```', re.S)


class Block(NamedTuple):
    document: str
    line: int
    lang: str
    mode: str
    body: str

    @property
    def name(self) -> str:
        return f'{self.document}:{self.line}'


def blocks() -> List[Block]:
    found = []
    for document in DOCUMENTS:
        with open(osp.join(REPO, document)) as f:
            text = f.read()
        for match in FENCE.finditer(text):
            line = text[:match.start('lang')].count('\n') + 1
            found.append(Block(document, line, match['lang'],
                               match['mode'] or '', match['body']))
    return found


BLOCKS = blocks()


def commands(body: str) -> List[str]:
    """The commands of a bash block (continuations joined, comments
    dropped)."""
    joined = body.replace('\\\n', ' ')
    return [re.sub(r'\s+#.*$', '', line).strip()
            for line in joined.splitlines()
            if line.strip() and not line.strip().startswith('#')]


def check_loads(command: str) -> None:
    """A command is what it says: make targets exist, a script takes its
    options, the configs it names load."""
    words = shlex.split(command)
    while words and re.fullmatch(r'\w+=\S*', words[0]):  # ENV=value
        words = words[1:]
    if words[0] == 'make':
        targets = [w for w in words[1:] if '=' not in w]
        result = subprocess.run(['make', '-n', *targets], cwd=REPO,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return
    if words[0] == 'bash':
        words = words[1:]
    script, args = words[0], words[1:]
    if script.endswith('python'):
        script, args = args[0], args[1:]
        assert osp.isfile(osp.join(REPO, script)), script
        result = subprocess.run([sys.executable, script, '--help'],
                                cwd=REPO, capture_output=True, text=True,
                                env=dict(os.environ, PYTHONPATH=REPO))
        assert result.returncode == 0, result.stderr[-2000:]
        for option in (a.split('=')[0] for a in args if a.startswith('--')):
            assert option in result.stdout, f'{script} takes no {option}'
    else:
        assert os.access(osp.join(REPO, script), os.X_OK), script
    for arg in args:
        if arg.endswith('.py') and (arg.startswith('configs/') or
                                    '::' in arg):
            read_config(osp.join(REPO, arg) if '::' not in arg else arg)


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory) -> str:
    """A folder to run the documents' blocks in: the repository's tools,
    demo and environment linked, its configs copied (blocks add their
    own), data and work dirs of its own."""
    root = str(tmp_path_factory.mktemp('docs_sandbox'))
    for name in ('tools', 'demo', '.venv'):
        os.symlink(osp.join(REPO, name), osp.join(root, name))
    shutil.copytree(osp.join(REPO, 'configs'), osp.join(root, 'configs'))
    return root


def test_every_python_block_says_how_it_is_tested():
    untested = [b.name for b in BLOCKS if b.lang == 'python' and not b.mode]
    assert not untested, f'python blocks without a docs-test mode: {untested}'


@pytest.mark.parametrize('block', [b for b in BLOCKS if b.lang == 'bash'
                                   and not b.mode], ids=lambda b: b.name)
def test_command_loads(block):
    for command in commands(block.body):
        check_loads(command)


@pytest.mark.parametrize('block', [b for b in BLOCKS
                                   if b.mode.startswith('fragment')],
                         ids=lambda b: b.name)
def test_config_fragment_loads_on_its_base(block, tmp_path):
    base = block.mode.split()[1]
    config = tmp_path / 'fragment.py'
    config.write_text(f"_base_ = ['{osp.join(REPO, base)}']\n{block.body}\n")
    MODELS.build(Config.fromfile(str(config)).model)


@pytest.mark.long
def test_blocks_run_as_written(sandbox):
    """The run, config and module blocks of every document, in order, in
    one sandbox: what a newcomer does, literally."""
    env = dict(os.environ, PYTHONPATH='')
    for block in BLOCKS:
        mode, _, argument = block.mode.partition(' ')
        if mode in ('config', 'module'):
            path = osp.join(sandbox, argument)
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(block.body + '\n')
            if mode == 'config':
                check_whole_config(path, sandbox)
        elif mode == 'run':
            program = ['bash', '-e', '-c'] if block.lang == 'bash' else \
                [osp.join(sandbox, '.venv', 'bin', 'python'), '-c']
            result = subprocess.run(program + [block.body], cwd=sandbox,
                                    env=env, capture_output=True, text=True,
                                    timeout=900)
            output = result.stdout + result.stderr
            assert result.returncode == 0, f'{block.name}:\n{output[-3000:]}'
            expect = re.search(r'expect="([^"]*)"', argument)
            if expect:
                assert expect[1] in output, f'{block.name}: {expect[1]!r}'


def check_whole_config(path: str, sandbox: str) -> None:
    """A config block loads, builds its model, and its model, datasets and
    metric agree on tasks (as the checks before a run's first iteration
    see them)."""
    sys.path.insert(0, sandbox)  # the user's modules (custom_imports)
    try:
        cfg = Config.fromfile(path)
    finally:
        sys.path.remove(sandbox)
    model = MODELS.build(cfg.model)
    train = configured_tasks(cfg.train_dataloader.dataset)
    val = configured_tasks(cfg.val_dataloader.dataset)
    assert not task_disagreements(model_task_configs(model), train, True)
    assert not task_disagreements(model_task_configs(model), val, False)
    for metric in (cfg.val_evaluator if isinstance(cfg.val_evaluator, list)
                   else [cfg.val_evaluator]):
        if metric.get('type') == 'MultiTaskMetric':
            METRICS.build(metric).dataset_meta = dict(tasks=val)


def test_readme_quotes_the_recorded_demo_results():
    """The key-results table is docs/demo_results.json, with the commit
    and machine that measured each demo (regenerate it with
    ``toolkit.demo_results.results_table``)."""
    from toolkit.demo_results import load, results_table
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    quoted = readme.split('<!-- demo-results -->\n', 1)[1].split('\n\n\n')[0]
    expected = results_table(load())
    assert quoted.strip().startswith(expected), \
        f'README quotes:\n{quoted}\n\nexpected:\n{expected}'
