"""Metrics against independent numpy computations on small arrays."""
import numpy as np
import pytest
import torch

from mmsquad.evaluation import MultiTaskMetric, delta_m


def sample(**fields):
    return {k: {'data': torch.as_tensor(v)} for k, v in fields.items()}


def test_miou_from_a_hand_made_confusion():
    metric = MultiTaskMetric(
        tasks=dict(semseg=dict(type='LabelMapTask', num_classes=3)))
    gt = np.array([[[0, 0, 1, 1, 255]]])
    pred = np.array([[[0, 1, 1, 1, 2]]])
    metric.process({}, [sample(gt_semseg=gt, pred_semseg=pred)])
    # class 0: tp 1, fp 0, fn 1 -> 1/2; class 1: tp 2, fp 1 -> 2/3;
    # class 2 appears nowhere on labelled pixels and is left out.
    result = metric.compute_metrics(metric.results)
    assert result['semseg/mIoU'] == pytest.approx((1 / 2 + 2 / 3) / 2 * 100)


def test_saliency_maxf_and_miou_against_numpy():
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 2, (1, 6, 6)) for _ in range(3)]
    preds = [rng.random((1, 6, 6)) for _ in range(3)]
    metric = MultiTaskMetric(tasks=['sal'])
    metric.process({}, [sample(gt_sal=g, pred_sal=p)
                        for g, p in zip(gts, preds)])
    # One result a sample: mmengine's distributed collection keeps the
    # first len(dataset), dropping the samples repeated to fill the ranks.
    assert len(metric.results) == 3
    result = metric.compute_metrics(metric.results)
    fs, ious = [], []
    for thr in np.linspace(0.2, 0.9, 15):
        prec, rec, jac = [], [], []
        for g, p in zip(gts, preds):
            b, t = p > thr, g == 1
            tp = (b & t).sum()
            prec.append(tp / max(b.sum(), 1e-8))
            rec.append(tp / max(t.sum(), 1e-8))
            jac.append(tp / max((b | t).sum(), 1e-8))
        p_, r_ = np.mean(prec), np.mean(rec)
        fs.append(2 * p_ * r_ / max(p_ + r_, 1e-8))
        ious.append(np.mean(jac))
    assert result['sal/maxF'] == pytest.approx(max(fs) * 100)
    assert result['sal/mIoU'] == pytest.approx(max(ious) * 100)


def test_normals_statistics_against_numpy():
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(3, 8, 8))
    gt /= np.linalg.norm(gt, axis=0)
    gt[:, 0, :3] = 255  # ignored pixels
    pred = gt + 0.3 * rng.normal(size=gt.shape)
    metric = MultiTaskMetric(tasks=['normals'])
    metric.process({}, [sample(gt_normals=gt, pred_normals=pred)])
    result = metric.compute_metrics(metric.results)
    valid = np.all(gt != 255, axis=0)
    p = pred[:, valid] / np.linalg.norm(pred[:, valid], axis=0)
    angles = np.degrees(np.arccos(np.clip((p * gt[:, valid]).sum(0), -1,
                                          1)))
    assert result['normals/mean'] == pytest.approx(angles.mean(), rel=1e-6)
    assert result['normals/rmse'] == pytest.approx(
        np.sqrt((angles**2).mean()), rel=1e-6)
    assert result['normals/median'] == pytest.approx(np.median(angles),
                                                     abs=0.05)
    for t in (11.25, 22.5, 30):
        assert result[f'normals/{t:g}'] == pytest.approx(
            (angles < t).mean() * 100)


def test_depth_rmse_and_abs_rel():
    gt = np.array([[[1.0, 2.0, 255.0]]])
    pred = np.array([[[1.5, 1.0, 3.0]]])
    metric = MultiTaskMetric(tasks=['depth'])
    metric.process({}, [sample(gt_depth=gt, pred_depth=pred)])
    result = metric.compute_metrics(metric.results)
    assert result['depth/rmse'] == pytest.approx(np.sqrt((0.25 + 1) / 2))
    assert result['depth/abs_rel'] == pytest.approx((0.5 + 0.5) / 2)


def test_human_parts_count_only_images_with_parts():
    metric = MultiTaskMetric(
        tasks=dict(human_parts=dict(type='LabelMapTask', num_classes=2)))
    labelled = sample(gt_human_parts=np.array([[[0, 1]]]),
                      pred_human_parts=np.array([[[0, 1]]]))
    unlabelled = sample(pred_human_parts=np.array([[[1, 1]]]))
    metric.process({}, [labelled, unlabelled])
    assert metric.compute_metrics(metric.results)['human_parts/mIoU'] == 100


def test_delta_m_by_hand():
    refs = {'semseg/mIoU': 50.0, 'normals/mean': 20.0}
    result = {'semseg/mIoU': 55.0, 'normals/mean': 22.0}
    # (+10% - 10%) / 2
    assert delta_m(result, refs, ['normals/mean']) == pytest.approx(0.0)
    assert delta_m(result, refs, []) == pytest.approx(10.0)
    metric = MultiTaskMetric(
        tasks=dict(semseg=dict(type='LabelMapTask', num_classes=2)),
        single_task_references={'semseg/mIoU': 80.0})
    metric.process({}, [sample(gt_semseg=np.array([[[0, 1]]]),
                               pred_semseg=np.array([[[0, 1]]]))])
    assert metric.compute_metrics(metric.results)[
        'multitask/delta_m'] == pytest.approx(25.0)


def test_lower_is_better_comes_from_the_task_kinds():
    metric = MultiTaskMetric(tasks=['semseg', 'normals', 'depth'])
    assert sorted(metric.lower_is_better) == [
        'depth/abs_rel', 'depth/rmse', 'normals/mean', 'normals/median',
        'normals/rmse']


def test_bad_metric_configs_fail_clearly():
    with pytest.raises(TypeError, match='num_classes'):
        MultiTaskMetric(tasks=dict(semseg=dict(type='LabelMapTask')))
    with pytest.raises(KeyError, match='segm.*not a preset'):
        MultiTaskMetric(tasks=['segm'])
    with pytest.raises(KeyError, match='det .BoxTask.*CocoDetectionMetric'):
        MultiTaskMetric(tasks=['semseg', 'det'])


def test_edge_odsf_with_bsds_correspondence():
    # Tolerance 0.0075 of the 283-pixel diagonal: about 2 pixels.
    gt = np.zeros((1, 200, 200), np.int64)
    gt[0, 100, 20:180] = 1  # a horizontal boundary
    exact = gt.astype(np.float64)
    shifted = np.roll(exact, 1, axis=1)  # one pixel off: within tolerance
    far = np.roll(exact, 10, axis=1)  # ten pixels off: no match
    scores = {}
    for name, pred in (('exact', exact), ('shifted', shifted),
                       ('far', far)):
        metric = MultiTaskMetric(tasks=dict(
            edge=dict(type='BoundaryMapTask', num_thresholds=9)))
        metric.process({}, [sample(gt_edge=gt, pred_edge=pred)])
        scores[name] = metric.compute_metrics(metric.results)['edge/odsF']
    assert scores['exact'] == pytest.approx(100)
    assert scores['shifted'] == pytest.approx(100)
    assert scores['far'] == pytest.approx(0)
    # Half the boundary predicted: recall 1/2, precision 1 -> F = 2/3.
    half = exact.copy()
    half[0, 100, 100:180] = 0
    metric = MultiTaskMetric(tasks=dict(
            edge=dict(type='BoundaryMapTask', num_thresholds=9)))
    metric.process({}, [sample(gt_edge=gt, pred_edge=half)])
    assert metric.compute_metrics(metric.results)['edge/odsF'] == \
        pytest.approx(200 / 3, abs=0.5)


def test_a_task_no_sample_is_labelled_for_is_an_error():
    """An evaluation pipeline that loads no target of a task (no
    LoadMultiTaskAnnotations) ended with that task's metrics missing and
    no word; a task labelled in some samples only is scored on those."""
    metric = MultiTaskMetric(tasks=['semseg', 'sal'])
    only_semseg = sample(gt_semseg=np.array([[[0, 1]]]),
                         pred_semseg=np.array([[[0, 1]]]),
                         pred_sal=np.array([[[0.2, 0.9]]]))
    metric.process({}, [only_semseg, only_semseg])
    with pytest.raises(ValueError, match=r"none of the 2 evaluated samples "
                       r"carries a target of \['sal'\], which the dataset "
                       'labels'):
        metric.compute_metrics(metric.results)
    metric.process({}, [sample(gt_sal=np.array([[[0.0, 1.0]]]),
                               pred_sal=np.array([[[0.2, 0.9]]]),
                               pred_semseg=np.array([[[0, 0]]]))])
    result = metric.compute_metrics(metric.results)
    assert result['semseg/mIoU'] == 100 and 'sal/maxF' in result


def test_a_target_of_another_size_than_its_prediction_is_named():
    """Targets loaded before the test resize are at the network's size,
    predictions at the image's: named with both sizes and the fix (an
    IndexError deep in the metric before)."""
    metric = MultiTaskMetric(tasks=['semseg', 'normals'])
    resized = dict(sample(gt_semseg=np.zeros((1, 4, 4), np.int64),
                          pred_semseg=np.zeros((1, 5, 7), np.int64)),
                   img_path='a.jpg')
    with pytest.raises(ValueError, match=r'a.jpg: the prediction of semseg '
                       r'is 5x7 .*, its target 4x4: the test pipeline '
                       'resizes the targets'):
        metric.process({}, [resized])
