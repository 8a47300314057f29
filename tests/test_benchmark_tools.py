"""The benchmarks' shared machinery: results collected from each script's
last line, the memory budget of a step, models with more tasks, whether
bfloat16 is native, the published pipeline the data pipeline is timed
against."""
import logging
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from conftest import REPO
from mmsquad.registry import MODELS
from mmsquad.utils.precision import (cpu_bfloat16_is_native,
                                     cpu_supports_bfloat16)
from toolkit import calibration, memory, published_pipeline, timing
from toolkit.synthetic import make_pascal_mt_demo
from toolkit.train_steps import build_train_step, many_tasks

sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import benchmark_all  # noqa: E402
import benchmark_pipeline  # noqa: E402
import benchmark_task_scaling  # noqa: E402

SQUAD = osp.join(REPO, 'configs', 'squad', 'pascal_ctx.py')


def test_results_come_from_the_last_line_of_pairs_only():
    lines = ['train step 5 ms\n', 'a=1 b=n/a\n', '\n']
    assert benchmark_all.result_pairs(lines) == {'a': '1', 'b': 'n/a'}
    assert benchmark_all.result_pairs(['a=1', 'done: x=2 ms']) == {}
    assert benchmark_all.result_pairs([]) == {}


def test_the_summary_line_holds_every_script_and_names_a_failure(
        tmp_path, monkeypatch, capsys):
    scripts = {'first.py': 'print("x")\nprint("a=1 b=2")\n',
               'broken.py': 'print("c=3")\nraise SystemExit(2)\n',
               'last.py': 'print("d=4")\n'}
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(benchmark_all, 'HERE', str(tmp_path))
    monkeypatch.setattr(benchmark_all, 'SCRIPTS', tuple(scripts))
    monkeypatch.setattr(sys, 'argv', ['benchmark_all.py', '--log-dir',
                                      str(tmp_path / 'logs')])
    with pytest.raises(SystemExit) as exit_info:
        benchmark_all.main()
    assert exit_info.value.code == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == 'a=1 b=2 broken=failed d=4'
    assert (tmp_path / 'logs' / 'first.log').read_text() == 'x\na=1 b=2\n'


def test_the_batch_is_the_largest_that_fits(monkeypatch):
    monkeypatch.setattr(memory, 'available_memory', lambda: 10 * 2**30)
    assert memory.batch_that_fits(2**30, 6) == 6  # 6 of 8 GiB
    assert memory.batch_that_fits(2 * 2**30, 6) == 4
    assert memory.batch_that_fits(3 * 2**30, 6) == 2
    assert memory.batch_that_fits(3 * 2**30, 6, fixed=6 * 2**30) == 0
    assert memory.batch_that_fits(2**30, 6, share=0.5) == 5


def test_a_smaller_batch_is_said_and_too_few_samples_run_none(
        monkeypatch, capsys):
    monkeypatch.setattr(memory, 'available_memory', lambda: 10 * 2**30)
    assert memory.batch_to_run('step', 2**30, 6) == 6
    assert capsys.readouterr().out == ''
    assert memory.batch_to_run('step', 3 * 2**30, 6) == 2
    assert 'step needs about 18.0 GiB' in capsys.readouterr().out
    assert memory.batch_to_run('step', 5 * 2**30, 6, least=2) == 0
    assert 'not measured' in capsys.readouterr().out


def test_the_memory_available_is_read_from_the_kernel():
    with open('/proc/meminfo') as meminfo:
        line = next(t for t in meminfo if t.startswith('MemTotal:'))
    total = int(line.split()[1]) * 1024
    assert 0 < memory.available_memory() <= total


def test_many_tasks_copies_kinds_heads_and_losses():
    model_cfg = Config.fromfile(SQUAD).model
    changes = many_tasks(model_cfg, 6)
    assert list(changes['heads']) == [
        'semseg', 'human_parts', 'sal', 'normals', 'semseg_2',
        'human_parts_2']
    assert changes['heads']['human_parts_2'] == model_cfg.heads.human_parts
    assert list(many_tasks(model_cfg, 2)['heads']) == ['semseg',
                                                       'human_parts']
    model, step_at = build_train_step(
        SQUAD, dict(optim_wrapper=dict(type='OptimWrapper')),
        dict(many_tasks(model_cfg, 6), backbone=dict(
            type='SquadNet', arch='tiny')))
    assert model.tasks['semseg_2'].num_classes == 21
    assert model.heads['normals'].conv_out.out_channels == 3
    assert model.backbone.num_tasks == 6
    before = model.heads['semseg_2'].conv_out.weight.detach().clone()
    step_at(2, 32)()
    assert not model.heads['semseg_2'].conv_out.weight.detach().equal(before)


def _grow_by(size: int) -> int:
    return timing.peak_memory_growth(
        lambda: bytearray(size).__setitem__(slice(None), b'x' * size))


def test_a_fresh_process_measures_its_own_peak_under_a_large_parent():
    held = bytearray(400 * 2**20)
    held[:] = b'y' * len(held)  # resident in the parent
    grown = timing.in_fresh_process(_grow_by, 100 * 2**20)
    assert 100 * 2**20 <= grown < 300 * 2**20
    del held


def _fault_counts(pages: int) -> dict:
    fns, counts = timing.counting_page_faults(dict(
        touch=lambda: torch.ones(pages * 1024), idle=lambda: None))
    for _ in range(2):
        fns['touch']()
        fns['idle']()
    return counts


def test_page_faults_are_counted_per_call():
    pages = 2**14  # 64 MiB of 4 KiB pages, above glibc's 32 MiB mmap limit
    # In a fresh process: the counts are the whole process's, and a test
    # process that has run other tests may hold threads or allocator
    # settings of its own.
    counts = timing.in_fresh_process(_fault_counts, pages)
    # Each call's tensor is mapped afresh and faults in page by page (or
    # by 2 MiB huge pages, where the kernel gives them unasked).
    assert all(pages // 512 <= c <= pages + 1000
               for c in counts['touch']), counts
    assert len(counts['touch']) == 2 and counts['idle'] == [0, 0], counts


def test_a_variant_is_budgeted_from_those_measured_before_it():
    estimate = benchmark_task_scaling.estimate
    assert estimate({}, 2, 'plain') == 0
    memory = {(2, 'plain'): 100.0}
    assert estimate(memory, 4, 'plain') == 200
    assert estimate(memory, 2, 'PCGrad') == \
        100 * benchmark_task_scaling.SURGERY_MEMORY
    memory.update({(2, 'PCGrad'): 150.0, (4, 'plain'): 220.0})
    assert estimate(memory, 8, 'plain') == 440
    assert estimate(memory, 4, 'PCGrad') == 220 * 1.5


def test_native_bfloat16_follows_the_cpu_flags():
    with open('/proc/cpuinfo') as cpuinfo:
        flags = next(line for line in cpuinfo
                     if line.startswith('flags')).split()
    native = 'avx512_bf16' in flags or 'amx_tile' in flags
    assert cpu_bfloat16_is_native() == native
    if native:
        assert cpu_supports_bfloat16()


def test_the_published_pipeline_runs_the_protocol_of_the_shipped_one(
        tmp_path):
    """The benchmark's re-implementation of the published pipeline (its
    cost model) draws the same flip, angle and zoom as the shipped
    PASCAL-Context pipeline: with the same seed its label maps are the
    same and its image equal to rounding, so the rates compare the same
    work."""
    root = str(tmp_path / 'PASCAL_MT')
    make_pascal_mt_demo(root, num_train=3, num_val=1, size=[(75, 100)],
                        seed=0)
    dataset = benchmark_pipeline.protocol_dataset(benchmark_pipeline.PASCAL,
                                                  root)
    mean = torch.from_numpy(published_pipeline.MEAN)[:, None, None]
    std = torch.from_numpy(published_pipeline.STD)[:, None, None]
    flips = set()
    for seed, index in ((0, 0), (1, 1), (2, 2), (3, 1)):
        np.random.seed(seed)
        theirs = published_pipeline.transform(published_pipeline.load(
            dataset.get_data_info(index)))
        np.random.seed(seed)
        ours = dataset.prepare_data(index)
        sample = ours['data_samples']
        flips.add(sample.flip)
        for task in ('semseg', 'sal'):
            assert torch.equal(theirs[task],
                               sample.get_target(task).data.float()), task
        image = (theirs['image'] * std + mean) * 255  # RGB, as loaded
        ours_rgb = ours['inputs'].flip(0).float()  # stored BGR
        assert (image - ours_rgb).abs().mean() < 1.0
        assert theirs['image'].shape == ours['inputs'].shape == (3, 512, 512)
    assert flips == {True, False}


def test_models_are_initialised_quietly_and_calibrated_to_depend_on_input():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskModel', backbone=dict(type='SquadNet', arch='tiny'),
        heads=dict(semseg=dict(type='ASPPTaskHead'))))
    stem = model.backbone.stem[0].conv.weight
    before = stem.detach().clone()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        calibration.init_weights_quietly(model)
    finally:
        logger.removeHandler(handler)
    assert not torch.equal(stem, before)  # the init_cfg was applied
    assert records == []
    first, second = torch.rand(2, 1, 3, 32, 32)
    assert calibration.input_sensitivity(model.eval(), first, second) < 1e-3
    calibration.calibrate_batchnorm(model, torch.rand(2, 3, 32, 32))
    assert calibration.input_sensitivity(model, first, second) > 0.05
