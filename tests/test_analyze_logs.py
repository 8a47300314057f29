"""The analysis tools of a run: analyze_logs.py (curves and iteration
times read from mmengine's scalars.json), and confusion_matrix.py and
eval_metric.py on a test's predictions."""
import json
import os
import pickle
import re
import sys

import cv2
import numpy as np
import pytest

from conftest import TINY_CONFIG, UNDERWATER_DEMO_CONFIG
from mmsquad.datasets import PascalContextMTDataset
from test_tools import run, tool
from toolkit.run_logs import curves, read_scalars, scalars_file, train_time

TRAIN = [dict(lr=0.1, loss=3.0, **{'semseg.loss_ce': 2.0}, time=0.5,
              epoch=1, iter=2, step=2),
         dict(lr=0.1, loss=2.0, **{'semseg.loss_ce': 1.5}, time=0.7,
              epoch=1, iter=4, step=4),
         dict(lr=0.05, loss=1.0, **{'semseg.loss_ce': 0.5}, time=0.4,
              epoch=2, iter=6, step=6)]
VAL = [{'semseg/mIoU': 10.0, 'time': 0.1, 'step': 1},
       {'semseg/mIoU': 20.0, 'time': 0.1, 'step': 2}]


def _write_run(work_dir, name, records):
    folder = work_dir / name / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        ''.join(json.dumps(r) + '\n' for r in records))
    return str(folder / 'scalars.json')


def test_curves_and_times_from_records():
    found = curves(TRAIN + VAL, ['*.loss_*', 'semseg/mIoU'])
    assert found == {'semseg.loss_ce': ('iteration', [2, 4, 6],
                                        [2.0, 1.5, 0.5]),
                     'semseg/mIoU': ('epoch', [1, 2], [10.0, 20.0])}
    # Iteration-based runs log no epoch: validation is by iteration.
    by_iter = [{k: v for k, v in r.items() if k != 'epoch'} for r in TRAIN]
    assert curves(by_iter + VAL, ['semseg/mIoU'])['semseg/mIoU'][0] == \
        'iteration'
    assert curves(TRAIN, ['lr']) == {'lr': ('iteration', [2, 4, 6],
                                            [0.1, 0.1, 0.05])}
    times = train_time(TRAIN + VAL)
    assert times == {1: dict(mean=pytest.approx(0.6), slowest=0.7,
                             fastest=0.5, count=2),
                     2: dict(mean=0.4, slowest=0.4, fastest=0.4, count=1)}


def test_a_work_dir_names_its_latest_run_that_trained(tmp_path):
    trained = _write_run(tmp_path, '20260101_000000', TRAIN + VAL)
    _write_run(tmp_path, '20260102_000000', VAL)  # a test.py run
    assert scalars_file(str(tmp_path)) == trained
    assert scalars_file(str(tmp_path / '20260102_000000')).endswith(
        '20260102_000000/vis_data/scalars.json')
    assert read_scalars(trained) == TRAIN + VAL
    with pytest.raises(FileNotFoundError, match='nor a work dir holding '
                       'runs'):
        scalars_file(str(tmp_path / 'nothing'))


def test_the_tool_on_a_training_run(demo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    trained = tool('train.py', TINY_CONFIG, '--work-dir', work_dir,
                   '--cfg-options',
                   f'train_dataloader.dataset.data_root={demo_root}',
                   f'val_dataloader.dataset.data_root={demo_root}',
                   f'test_dataloader.dataset.data_root={demo_root}',
                   'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
    assert trained.returncode == 0, trained.stderr[-3000:]
    out = str(tmp_path / 'curves.png')
    plot = run([sys.executable, 'tools/analysis_tools/analyze_logs.py',
                'plot_curve', work_dir, '--keys', '*.loss_*', '*/mIoU',
                '--out', out])
    assert plot.returncode == 0, plot.stderr[-3000:]
    for key in ('semseg.loss_ce', 'human_parts.loss_ce', 'sal.loss_bce',
                'normals.loss_l1', 'semseg/mIoU', 'human_parts/mIoU'):
        assert key in plot.stdout
    picture = cv2.imread(out)
    assert picture is not None and picture.shape[1] > picture.shape[0]
    speed = run([sys.executable, 'tools/analysis_tools/analyze_logs.py',
                 'cal_train_time', work_dir])
    assert speed.returncode == 0, speed.stderr[-3000:]
    assert 'epoch 1: mean' in speed.stdout
    assert 'average iter time' in speed.stdout
    missing = run([sys.executable, 'tools/analysis_tools/analyze_logs.py',
                   'plot_curve', work_dir, '--keys', 'depth*'])
    assert missing.returncode != 0
    assert 'no logged key matches depth*' in missing.stderr
    assert not os.path.exists('curves.png')


@pytest.fixture(scope='module')
def tested(tiny_checkpoint, demo_root, tmp_path_factory) -> tuple:
    """``tools/test.py --out`` of the tiny checkpoint: the pickle of its
    predictions and the metrics it logged."""
    folder = tmp_path_factory.mktemp('tested')
    preds = str(folder / 'preds.pkl')
    test = tool('test.py', TINY_CONFIG, tiny_checkpoint, '--out', preds,
                '--work-dir', str(folder / 'work'), '--cfg-options',
                f'test_dataloader.dataset.data_root={demo_root}')
    assert test.returncode == 0, test.stderr[-3000:]
    line = [ln for ln in (test.stdout + test.stderr).splitlines()
            if 'Epoch(test)' in ln][-1]
    metrics = {key: float(value) for key, value in re.findall(
        r'(\w+/[\w.]+): (-?[\d.]+)', line) if 'time' not in key}
    return preds, metrics


def test_confusion_matrices_of_a_test_s_predictions(tested, tmp_path):
    """The matrices' mIoU is the test's; the per-class IoUs equal numpy's
    from the pickled targets and predictions."""
    preds, metrics = tested
    reported = metrics['semseg/mIoU']
    out_dir = tmp_path / 'matrices'
    result = run([sys.executable, 'tools/analysis_tools/confusion_matrix.py',
                  TINY_CONFIG, preds, str(out_dir)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'semseg: mIoU {reported:.2f}' in result.stdout
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'confusion_matrix_human_parts.png', 'confusion_matrix_semseg.png']

    with open(preds, 'rb') as f:
        samples = pickle.load(f)
    gt = np.concatenate([s['gt_semseg']['data'].numpy().ravel()
                         for s in samples])
    pred = np.concatenate([s['pred_semseg']['data'].numpy().ravel()
                           for s in samples])
    pred, gt = pred[gt != 255], gt[gt != 255]
    for index, name in enumerate(PascalContextMTDataset.CLASSES):
        union = np.sum((pred == index) | (gt == index))
        if union:
            iou = 100 * np.sum((pred == index) & (gt == index)) / union
            assert f'  {name}: IoU {iou:.2f}' in result.stdout

    wrong = run([sys.executable, 'tools/analysis_tools/confusion_matrix.py',
                 TINY_CONFIG, preds, str(out_dir), '--tasks', 'sal'])
    assert wrong.returncode != 0
    assert 'sal: not class-map tasks' in wrong.stderr
    none = run([sys.executable, 'tools/analysis_tools/confusion_matrix.py',
                UNDERWATER_DEMO_CONFIG, preds, str(out_dir)])
    assert none.returncode != 0
    assert 'has no class-map task' in none.stderr


def test_eval_metric_scores_the_predictions_as_the_test_did(
        tested, demo_root, tmp_path):
    """The test's metrics again from its pickle; single-task references
    given afterwards score delta_m (0 against the test's own numbers,
    hand-computed against others); predictions of another config's tasks
    and files that are no predictions are refused."""
    preds, metrics = tested
    data = f'test_dataloader.dataset.data_root={demo_root}'

    def eval_metric(*args):
        return run([sys.executable, 'tools/analysis_tools/eval_metric.py',
                    TINY_CONFIG, *args])

    result = eval_metric(preds, '--cfg-options', data)
    assert result.returncode == 0, result.stderr[-3000:]
    scored = dict(re.findall(r'^(\S+): (-?[\d.]+)$', result.stdout, re.M))
    assert {k: float(v) for k, v in scored.items()} == pytest.approx(
        metrics, abs=1e-4)
    assert 'multitask/delta_m' not in scored  # the tiny config has none
    main = {'semseg/mIoU': 1, 'human_parts/mIoU': 1, 'sal/maxF': 1,
            'normals/mean': -1}  # +1: higher is better
    for name, shift in (('same', 0.0), ('better', 10.0)):
        references = {k: metrics[k] + shift * sign for k, sign in
                      main.items()}
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(dict(metrics=references)))
        result = eval_metric(preds, '--cfg-options', data,
                             f'test_evaluator.single_task_references={path}')
        assert result.returncode == 0, result.stderr[-3000:]
        delta = float(re.search(r'multitask/delta_m: (-?[\d.]+)',
                                result.stdout)[1])
        expected = np.mean([-100 * shift / references[k]
                            for k in main])  # each task worse by shift
        # The logged metrics are rounded to 1e-4.
        rounding = np.mean([100 * 5e-5 / references[k] for k in main])
        assert delta == pytest.approx(expected, abs=rounding + 1e-3)

    other = eval_metric(preds, '--cfg-options', data,
                        'test_dataloader.dataset.tasks=[semseg,edge]')
    assert other.returncode != 0
    assert 'predicts edge, a task of' in other.stderr
    unknown = eval_metric(preds, '--cfg-options', data,
                          'test_dataloader.dataset.tasks=[semseg,depth]')
    assert unknown.returncode != 0
    assert unknown.stderr.strip().splitlines()[-1].startswith(
        'eval_metric.py: error: PascalContextMTDataset has no annotations '
        "for ['depth']")
    not_preds = tmp_path / 'weights.pkl'
    not_preds.write_bytes(pickle.dumps(dict(state_dict={})))
    result = eval_metric(str(not_preds), '--cfg-options', data)
    assert result.returncode != 0
    assert 'holds dict, not the list of samples' in result.stderr
