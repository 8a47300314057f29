"""Batching of odd and mixed image sizes with every task's targets."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import build_tasks

TASKS = build_tasks(['semseg', 'normals'])

SIZES = [(97, 131), (120, 80)]


def _batch():
    inputs, samples = [], []
    for i, (h, w) in enumerate(SIZES):
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8))
        sample = MultiTaskDataSample()
        sample.set_target('semseg', TASKS['semseg'].pack(
            np.full((h, w), i, dtype=np.uint8)))
        sample.set_target('normals', TASKS['normals'].pack(
            np.full((h, w, 3), 0.5, dtype=np.float32)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_training_pads_mixed_sizes_with_each_tasks_ignore_index():
    preprocessor = MODELS.build(dict(
        type='MultiTaskDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1],
        pad_size_divisor=32))
    data = preprocessor(_batch(), training=True)
    # max(97, 120) -> 128 and max(131, 80) -> 160, multiples of 32.
    assert data['inputs'].shape == (2, 3, 128, 160)
    for i, ((h, w), sample) in enumerate(zip(SIZES, data['data_samples'])):
        assert sample.batch_input_shape == (128, 160)
        for task, value in (('semseg', i), ('normals', 0.5)):
            target = sample.get_target(task).data
            assert target.shape[-2:] == (128, 160)
            assert (target[:, :h, :w] == value).all()
            ignore = TASKS[task].ignore_index
            assert (target[:, h:, :] == ignore).all()
            assert (target[:, :, w:] == ignore).all()


def test_evaluation_keeps_targets_at_their_loaded_size():
    preprocessor = MODELS.build(dict(
        type='MultiTaskDataPreprocessor', pad_size_divisor=32))
    data = preprocessor(_batch(), training=False)
    for (h, w), sample in zip(SIZES, data['data_samples']):
        assert sample.get_target('semseg').shape == (h, w)


def test_a_target_without_a_ignore_index_is_named():
    data = _batch()
    data['data_samples'][1].set_target('road', PixelData(
        data=torch.zeros(1, *SIZES[1], dtype=torch.int64)))
    preprocessor = MODELS.build(dict(type='MultiTaskDataPreprocessor'))
    with pytest.raises(KeyError, match="'road' records no ignore_index"):
        preprocessor(data, training=True)


def test_a_box_samples_semantic_map_is_padded_with_mmdets_255():
    """mmdet's gt_sem_seg (HTC's semantic head stacks the batch's maps)
    is padded like the image in training, with mmdet's seg_pad_value."""
    data = _batch()
    for i, ((h, w), sample) in enumerate(zip(SIZES, data['data_samples'])):
        sample.gt_sem_seg = PixelData(sem_seg=torch.full(
            (1, h, w), i, dtype=torch.uint8))
    preprocessor = MODELS.build(dict(type='MultiTaskDataPreprocessor',
                                     pad_size_divisor=32))
    samples = preprocessor(data, training=True)['data_samples']
    for i, ((h, w), sample) in enumerate(zip(SIZES, samples)):
        expected = torch.full((1, 128, 160), 255, dtype=torch.uint8)
        expected[:, :h, :w] = i
        torch.testing.assert_close(sample.gt_sem_seg.sem_seg, expected)


def test_a_semantic_map_of_the_batch_shape_is_kept_as_it_is():
    """A map already at the batch shape (a padded one, preprocessed
    again) is neither copied nor changed."""
    data = _batch()
    preprocessor = MODELS.build(dict(type='MultiTaskDataPreprocessor',
                                     pad_size_divisor=32))
    for sample in data['data_samples']:
        sample.gt_sem_seg = PixelData(sem_seg=torch.zeros(
            (1, 128, 160), dtype=torch.uint8))
    kept = [s.gt_sem_seg.sem_seg for s in data['data_samples']]
    samples = preprocessor(data, training=True)['data_samples']
    assert all(s.gt_sem_seg.sem_seg is k for s, k in zip(samples, kept))


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('packer', ['mmseg.PackSegInputs',
                                    'mmdet.PackDetInputs'])
def test_samples_of_another_packer_are_refused_by_name(packer, training):
    """A pipeline ending in mmseg's or mmdet's packer: refused at the first
    batch, naming the sample type and the fix (an AttributeError deep in
    training before; in evaluation every task silently left unscored)."""
    from mmcv.transforms import Compose
    preprocessor = MODELS.build(dict(
        type='MultiTaskDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]))
    pack = Compose([dict(type=packer)])
    image = np.zeros((20, 30, 3), np.uint8)
    packed = pack(dict(img=image, img_shape=(20, 30), ori_shape=(20, 30),
                       gt_seg_map=np.zeros((20, 30), np.uint8)))
    sample_type = type(packed['data_samples']).__name__
    assert sample_type in ('SegDataSample', 'DetDataSample')
    batch = dict(inputs=[packed['inputs']],
                 data_samples=[packed['data_samples']])
    with pytest.raises(TypeError, match=f'the data samples are '
                       f'{sample_type}, not MultiTaskDataSample: end the '
                       'dataset pipeline with PackMultiTaskInputs'):
        preprocessor(batch, training=training)


def test_a_training_batch_without_any_target_is_refused():
    """A training pipeline that loads no annotations trained every loss at
    0 to the end; a batch with one labelled sample, and evaluation batches
    without targets (inference), are fine."""
    preprocessor = MODELS.build(dict(
        type='MultiTaskDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]))
    batch = _batch()
    unlabelled = [MultiTaskDataSample() for _ in batch['inputs']]
    with pytest.raises(ValueError, match='none of the 2 samples of a '
                       'training batch carries a target of any task'):
        preprocessor(dict(batch, data_samples=unlabelled), training=True)
    preprocessor(dict(batch, data_samples=[MultiTaskDataSample()
                                           for _ in batch['inputs']]),
                 training=False)
    one = _batch()
    one['data_samples'][1] = MultiTaskDataSample()
    preprocessor(one, training=True)
