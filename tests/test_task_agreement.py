"""Tasks are defined once: the dataset publishes them, the metric takes
them from it, and a model, dataset or metric that disagrees stops the run
before its first iteration, for any config."""
import json
import re

import pytest

from conftest import TINY_CONFIG
from mmsquad.datasets import MultiTaskConcatDataset, dataset_tasks
from mmsquad.engine.hooks.task_agreement_hook import task_disagreements
from mmsquad.evaluation import MultiTaskMetric
from mmsquad.registry import DATASETS
from mmsquad.tasks import build_tasks, task_configs
from test_tools import tool

DEMO_TASKS = ['semseg', 'human_parts', 'sal', 'normals']


def train_tiny(demo_root, tmp_path, *options):
    """tools/train.py on the tiny config with ``options``."""
    data = [f'{loader}.dataset.data_root={demo_root}' for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    return tool('train.py', TINY_CONFIG, '--work-dir', str(tmp_path / 'w'),
                '--cfg-options', *data, 'train_cfg.max_epochs=1',
                *options)


def refused_before_training(result, *fragments):
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-2000:]
    assert 'Epoch(train)' not in log
    for fragment in fragments:
        assert fragment in log, log[-2000:]


def test_dataset_publishes_its_tasks(demo_root):
    dataset = DATASETS.build(dict(type='PascalContextMTDataset',
                                  data_root=demo_root, split='val',
                                  tasks=['semseg', 'sal']))
    assert dataset_tasks(dataset) == task_configs(build_tasks(['semseg',
                                                               'sal']))


def test_metric_takes_the_datasets_tasks_and_checks_given_ones():
    published = task_configs(build_tasks(['det', 'semseg', 'normals']))
    metric = MultiTaskMetric()
    metric.dataset_meta = dict(tasks=published)
    assert list(metric.tasks) == ['semseg', 'normals']  # boxes: CocoMetric
    other = MultiTaskMetric(tasks=[dict(name='semseg', type='LabelMapTask',
                                        num_classes=5)])
    with pytest.raises(ValueError, match="'semseg' as .*num_classes.: 5"):
        other.dataset_meta = dict(tasks=published)
    with pytest.raises(ValueError, match="'sal', which the dataset does"):
        MultiTaskMetric(tasks=['sal']).dataset_meta = dict(tasks=published)
    with pytest.raises(ValueError, match='publishes no tasks'):
        MultiTaskMetric().dataset_meta = dict(classes=('a', 'b'))


def test_a_task_without_a_reference_is_an_error(tmp_path):
    references = tmp_path / 'refs.json'
    references.write_text(json.dumps(dict(metrics={'semseg/mIoU': 50.0})))
    metric = MultiTaskMetric(single_task_references=str(references))
    with pytest.raises(KeyError, match=r"\['sal/mIoU'\].*leave those tasks"):
        metric.dataset_meta = dict(tasks=task_configs(build_tasks(
            ['semseg', 'sal'])))


def test_disagreements_are_named():
    model = task_configs(build_tasks(['semseg', 'sal']))
    data = task_configs(build_tasks(['semseg', 'normals']))
    problems = task_disagreements(model, data, training=True)
    assert any("['normals'], which the model has no head for" in p
               for p in problems)
    assert any("['sal'] that the data never labels" in p for p in problems)
    # Evaluation data may leave a model task out.
    assert not task_disagreements(model, task_configs(build_tasks(
        ['semseg'])), training=False)


def test_concatenation_publishes_the_union(demo_root):
    parts = [dict(type='PascalContextMTDataset', data_root=demo_root,
                  split='val', tasks=[task]) for task in ('semseg', 'sal')]
    dataset = MultiTaskConcatDataset(parts)
    assert list(dataset_tasks(dataset)) == ['semseg', 'sal']
    clash = dict(parts[1], tasks=[dict(name='semseg', type='LabelMapTask',
                                       num_classes=3)])
    with pytest.raises(ValueError, match="labels task 'semseg'"):
        MultiTaskConcatDataset([parts[0], clash])


def test_metric_disagreeing_with_its_dataset_stops_before_training(
        demo_root, tmp_path):
    result = train_tiny(demo_root, tmp_path,
                        'val_evaluator.tasks=[semseg,edge]')
    refused_before_training(result, "evaluates task 'edge', which the "
                            'dataset does not label')


def test_dataset_disagreeing_with_the_model_stops_before_training(
        demo_root, tmp_path):
    result = train_tiny(
        demo_root, tmp_path, 'train_dataloader.dataset.tasks=[semseg,sal]')
    refused_before_training(result, 'train_dataloader: the model and its '
                            "data disagree on tasks: the model has tasks "
                            "['human_parts', 'normals'] that the data never "
                            'labels')


def test_a_kind_that_differs_stops_before_training(demo_root, tmp_path):
    """The dataset's semseg with 5 classes against the model's 21."""
    config = tmp_path / 'five_classes.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "train_dataloader = dict(dataset=dict(tasks=[dict(name='semseg', "
        "type='LabelMapTask', num_classes=5), 'human_parts', 'sal', "
        "'normals']))\n")
    result = tool('train.py', str(config), '--work-dir', str(tmp_path / 'w'),
                  '--cfg-options', *(
                      f'{loader}.dataset.data_root={demo_root}' for loader
                      in ('train_dataloader', 'val_dataloader')))
    refused_before_training(result, "task 'semseg' is", "'num_classes': 21",
                            "'num_classes': 5")


@pytest.mark.parametrize('tasks, owners, fields', [
    ([dict(name='det', type='BoxTask'), dict(name='boxes', type='BoxTask')],
     "['det', 'boxes']", r"\['gt_instances', 'gt_sem_seg', "
     r"'ignored_instances', 'proposals'\]"),
    ([dict(name='det', type='BoxTask'),
      dict(name='sem_seg', type='LabelMapTask', num_classes=3)],
     "['det', 'sem_seg']", r"\['gt_sem_seg'\]"),
], ids=['two box tasks', 'named after a field of the box task'])
def test_tasks_whose_samples_would_share_a_field_are_refused(
        tasks, owners, fields):
    """A dense task named sem_seg would write its target where a box
    task's samples carry mmdet's semantic maps (HTC's): refused, naming
    both tasks and the field."""
    with pytest.raises(ValueError, match=re.escape(f'tasks {owners} share '
                       'the sample fields ') + fields):
        build_tasks(tasks)
    if tasks[1]['type'] != 'BoxTask':  # another name is fine
        build_tasks([tasks[0], dict(tasks[1], name='seg')])
