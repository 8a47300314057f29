"""Data you can trust: images in the pixel order of their labels, targets
checked against their task kinds, files that cannot be right refused by
name, one training per work dir, safe input walking, messages that say the
right thing, and the tools that check and show a dataset before a run."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import REPO, TINY_CONFIG
from mmsquad.engine.hooks.non_finite_loss_hook import resume_advice
from mmsquad.functional import PALETTE
from mmsquad.registry import DATASETS
from mmsquad.tasks import (BinaryMapTask, ImageLabelTask, InvalidTargetError,
                           LabelMapTask, ScalarMapTask, UnitVectorTask)
from mmsquad.utils import WorkDirLock, WorkDirLockedError
from mmsquad.utils.checkpoint import CheckpointError, load_from_local
from mmsquad.utils.compat import atomic_write
from mmsquad.utils.image_files import find_images
from mmsquad.visualization.multitask_visualizer import LINE

TASKS = ['semseg', 'human_parts', 'sal', 'normals']
#: EXIF orientation 6: a viewer turns the stored image 90 degrees clockwise.
ROTATE_CW = 6


def build(root, split='train', **kwargs):
    return DATASETS.build(dict(
        type='PascalContextMTDataset', data_root=root, split=split,
        tasks=TASKS, pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadMultiTaskAnnotations'),
            dict(type='PackMultiTaskInputs')], **kwargs))


@pytest.fixture
def tree(demo_root, tmp_path):
    """A writable copy of the demo tree."""
    root = str(tmp_path / 'PASCAL_MT')
    shutil.copytree(demo_root, root)
    return root


def path_of(root, kind, img_id='demo_train_00000'):
    return dict(image=osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
                semseg=osp.join(root, 'semseg', 'VOC12',
                                f'{img_id}.png'),
                normals=osp.join(root, 'normals_distill', f'{img_id}.png'),
                train=osp.join(root, 'ImageSets', 'Context', 'train.txt'),
                val=osp.join(root, 'ImageSets', 'Context', 'val.txt'))[kind]


def tag_orientation(path, orientation=ROTATE_CW):
    """Re-save a JPEG with an EXIF orientation tag (pixels as stored)."""
    image = Image.open(path)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif.tobytes(), quality=95)


# 1. Image and label geometry agree.
def test_a_photo_with_an_exif_orientation_loads_in_stored_order(tree):
    """The labels are in stored pixel order: so must the image be. mmcv's
    default decoding turns the image by the tag (a square photo then trains
    on labels rotated against it, silently)."""
    tag_orientation(path_of(tree, 'image'))
    stored = cv2.imread(path_of(tree, 'image'),
                        cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    turned = cv2.imread(path_of(tree, 'image'))
    assert not np.array_equal(stored, turned)  # the tag takes effect
    dataset = build(tree)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_id'] == 'demo_train_00000')
    packed = dataset[index]
    image = packed['inputs'].numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(image, stored)
    semseg = packed['data_samples'].gt_semseg.data[0].numpy()
    np.testing.assert_array_equal(
        semseg, np.array(Image.open(path_of(tree, 'semseg'))))


def _image_loaders(node):
    """The image loaders of a config, but those of another package's
    datasets that a TaskDataset wraps (it switches them when it builds
    them: tests/test_task_dataset.py)."""
    if isinstance(node, dict):
        if node.get('type') == 'TaskDataset':
            return
        if str(node.get('type', '')).endswith('LoadImageFromFile'):
            yield node
        for value in node.values():
            yield from _image_loaders(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _image_loaders(value)


@pytest.mark.parametrize('config', sorted(glob.glob(
    osp.join(REPO, 'configs', '**', '*.py'), recursive=True)),
    ids=lambda p: osp.relpath(p, REPO))
def test_every_shipped_pipeline_decodes_in_stored_order(config):
    cfg = Config.fromfile(config).to_dict()
    loaders = [cfg.get(f'{split}_dataloader') for split in
               ('train', 'val', 'test')]
    for loader in _image_loaders(loaders):
        assert loader.get('color_type') == 'color_ignore_orientation', (
            config, loader)


def test_the_inferencer_turns_photos_upright_and_says_so(tmp_path,
                                                        tiny_checkpoint):
    from mmsquad.apis import MultiTaskInferencer
    image = np.random.default_rng(0).integers(0, 255, (24, 40, 3), np.uint8)
    path = str(tmp_path / 'photo.jpg')
    Image.fromarray(image).save(path)
    tag_orientation(path)
    inferencer = MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                                     device='cpu', show_progress=False)
    prediction = inferencer(path)['predictions'][0]
    assert prediction['exif_orientation'] == ROTATE_CW
    assert prediction['semseg'].shape == (40, 24)  # upright: turned


# 2. Every target checked against its kind.
@pytest.mark.parametrize('task, good, bad, words', [
    (LabelMapTask(21, name='semseg'), np.array([[0, 20], [255, 3]]),
     np.array([[0, 40], [40, 21]]), '3 of 4 pixels hold 21, 40'),
    (BinaryMapTask(name='sal'), np.array([[0, 1], [255, 1]]),
     np.array([[0, 2], [1, 1]]), '1 of 4 pixels hold 2'),
    (UnitVectorTask(name='normals'),
     np.array([[[0, 0, 1], [255, 255, 255]]], np.float32),
     np.array([[[0, 0, 1], [0, 0.5, 0]]], np.float32), '1 of 2 pixels'),
    (ScalarMapTask(name='depth'), np.array([[1.5, 255]], np.float32),
     np.array([[np.inf, np.nan]], np.float32), '2 of 2 pixels'),
    (ImageLabelTask(3, name='scene'), np.array(2), np.array(3),
     'class index 3'),
], ids=lambda v: type(v).__name__ if not isinstance(v, (np.ndarray, str))
    else None)
def test_each_kind_refuses_values_it_cannot_have(task, good, bad, words):
    assert task.target_problem(good) is None
    with pytest.raises(InvalidTargetError) as error:
        task.check_target(bad, 'x/file.png')
    assert 'x/file.png' in str(error.value)
    assert repr(task.name) in str(error.value)
    assert words in str(error.value)


def test_a_label_outside_the_classes_is_named_at_load(tree):
    labels = np.array(Image.open(path_of(tree, 'semseg')))
    labels[:2, :3] = 40  # 6 pixels beyond the 21 classes
    Image.fromarray(labels).save(path_of(tree, 'semseg'))
    dataset = build(tree)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_id'] == 'demo_train_00000')
    with pytest.raises(InvalidTargetError,
                       match=r"demo_train_00000.png: invalid target of task "
                       r"'semseg' \(LabelMapTask\): 6 of 1024 pixels hold 40"):
        dataset[index]


# 3. Files that cannot be right.
def test_an_empty_image_is_named_before_training(tree):
    open(path_of(tree, 'image'), 'wb').close()
    with pytest.raises(ValueError, match=r'demo_train_00000.jpg .*empty'):
        build(tree)
    skipping = build(tree, bad_files='skip')
    assert len(skipping) == 7
    assert 'demo_train_00000.jpg' in skipping.file_problems[0]


def test_an_undecodable_image_is_named_when_loaded(tree):
    with open(path_of(tree, 'image'), 'wb') as f:
        f.write(b'not a jpeg')
    dataset = build(tree)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_id'] == 'demo_train_00000')
    with pytest.raises(OSError, match='demo_train_00000.jpg'):
        dataset[index]


def test_an_empty_split_file_is_named(tree):
    open(path_of(tree, 'val'), 'w').close()
    with pytest.raises((OSError, ValueError),
                       match=r'val.txt (is empty|lists no image ids)'):
        build(tree, split='val')


def test_ids_listed_twice_are_refused_or_used_once(tree):
    with open(path_of(tree, 'train'), 'a') as f:
        f.write('demo_train_00001\ndemo_train_00002\n')
    with pytest.raises(ValueError, match=r'train.txt lists 2 ids more than '
                       r'once: demo_train_00001, demo_train_00002'):
        build(tree)
    assert len(build(tree, bad_files='skip')) == 8


# 4. One run per work dir.
def test_a_second_lock_on_a_work_dir_names_the_holder(tmp_path):
    with WorkDirLock(str(tmp_path)):
        with pytest.raises(WorkDirLockedError, match=f'pid {os.getpid()}'):
            WorkDirLock(str(tmp_path)).acquire()
    assert not os.listdir(tmp_path)  # released


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    with open(tmp_path / 'train.lock', 'w') as f:
        json.dump(dict(pid=_dead_pid(), host=os.uname().nodename,
                       started='earlier', command='killed'), f)
    with WorkDirLock(str(tmp_path)) as lock:
        with open(lock.path) as f:
            assert json.load(f)['pid'] == os.getpid()


def test_train_refuses_a_work_dir_in_use(demo_root, tmp_path):
    holder = subprocess.Popen([sys.executable, '-c',
                               'import time; time.sleep(120)'])
    try:
        with open(tmp_path / 'train.lock', 'w') as f:
            json.dump(dict(pid=holder.pid, host=os.uname().nodename,
                           started='now', command='another training'), f)
        start = time.time()
        result = subprocess.run(
            [sys.executable, 'tools/train.py', TINY_CONFIG, '--work-dir',
             str(tmp_path), '--cfg-options',
             f'train_dataloader.dataset.data_root={demo_root}',
             f'val_dataloader.dataset.data_root={demo_root}'],
            cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
    assert result.returncode != 0
    assert f'pid {holder.pid}' in result.stderr
    assert 'another training' in result.stderr
    assert 'Traceback' not in result.stderr
    assert time.time() - start < 60
    assert sorted(os.listdir(tmp_path)) == ['train.lock']  # nothing written


# 5. Input walking.
def test_a_symlink_loop_is_walked_once_and_a_bad_path_has_no_traceback(
        tmp_path, tiny_checkpoint):
    images = tmp_path / 'images'
    (images / 'sub').mkdir(parents=True)
    cv2.imwrite(str(images / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(images / 'sub' / 'b.png'), np.zeros((8, 8, 3), np.uint8))
    os.symlink(str(images), str(images / 'sub' / 'loop'))
    os.symlink('self', str(tmp_path / 'self'))  # a link to itself
    assert [osp.relpath(p, images) for p in find_images(str(images))] == [
        'a.png', osp.join('sub', 'b.png')]
    result = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'self'),
         TINY_CONFIG, tiny_checkpoint, '--out-dir', str(tmp_path / 'o')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    assert 'looping symbolic link' in result.stderr.strip().splitlines()[-1]


# 6. Messages.
def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', no_space)
    target = str(tmp_path / 'epoch_3.pth')
    with pytest.raises(OSError, match='No space left on device.*epoch_3.pth'):
        atomic_write(b'weights', target)
    assert not os.listdir(tmp_path)


class Payload:
    def __reduce__(self):
        return (exec, ('pass', ))


def test_a_refused_checkpoint_names_only_the_offending_globals(tmp_path):
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    buffer.update(1.0)
    state = dict(state_dict=dict(w=torch.ones(2)),
                 message_hub=dict(loss=buffer, seed=np.int64(3)),
                 extra=Payload())
    path = str(tmp_path / 'crafted.pth')
    torch.save(state, path)
    with pytest.raises(CheckpointError) as error:
        load_from_local(path)
    named = str(error.value).split('(')[1].split(')')[0]
    assert named == 'builtins.exec'


def test_a_legacy_format_checkpoint_is_recognised(tmp_path):
    safe = str(tmp_path / 'legacy.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2)), seed=np.int64(3)),
               safe, _use_new_zipfile_serialization=False)
    assert torch.equal(load_from_local(safe)['state_dict']['w'],
                       torch.ones(2))
    crafted = str(tmp_path / 'legacy_crafted.pth')
    torch.save(dict(extra=Payload()), crafted,
               _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"legacy \(non-zip\) format "
                       r'holds objects .*first found: exec'):
        load_from_local(crafted)


def test_after_a_divergence_the_last_sane_checkpoint_is_named():
    saves = [dict(path='iter_10.pth', loss=2.0, median_loss=2.5),
             dict(path='iter_20.pth', loss=1.5, median_loss=2.0),
             dict(path='iter_30.pth', loss=4e3, median_loss=1.9)]
    advice = resume_advice(saves)
    assert 'resume from iter_20.pth' in advice
    assert '1 later checkpoint' in advice
    assert 'resume from the last checkpoint, iter_20.pth' in resume_advice(
        saves[:2])
    assert 'no checkpoint of this run was saved while its loss was sane' in \
        resume_advice(saves[2:])
    assert 'saved no checkpoint' in resume_advice([])


# 8. Look before a long run.
def corrupt(tree):
    """One corruption of each kind in one tree: what the check must list."""
    labels = np.array(Image.open(path_of(tree, 'semseg')))
    labels[0, 0] = 40
    Image.fromarray(labels).save(path_of(tree, 'semseg'))
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(
        path_of(tree, 'normals', 'demo_train_00001'))  # vectors of length 0
    open(path_of(tree, 'image', 'demo_train_00002'), 'wb').close()
    with open(path_of(tree, 'image', 'demo_train_00003'), 'wb') as f:
        f.write(b'not a jpeg')
    tag_orientation(path_of(tree, 'image', 'demo_train_00004'))
    with open(path_of(tree, 'train'), 'a') as f:
        f.write('demo_train_00005\n')
    open(path_of(tree, 'val'), 'w').close()


def test_check_dataset_lists_every_problem_in_one_run(tree):
    corrupt(tree)
    result = subprocess.run(
        [sys.executable, 'tools/misc/check_dataset.py', TINY_CONFIG,
         '--workers', '2', '--cfg-options',
         f'train_dataloader.dataset.data_root={tree}',
         f'val_dataloader.dataset.data_root={tree}',
         f'test_dataloader.dataset.data_root={tree}'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    out = result.stdout
    train = out.split('\nval:')[0]
    assert 'train: 7 samples, 5 problems' in train
    for fragment in ("demo_train_00000.png: invalid target of task 'semseg'",
                     "demo_train_00001.png: invalid target of task 'normals'",
                     'demo_train_00002.jpg is empty (0 bytes)',
                     'demo_train_00003.jpg',
                     'lists 1 ids more than once: demo_train_00005',
                     'note: 1 images carry an EXIF orientation tag',
                     'demo_train_00004.jpg'):
        assert fragment in train, (fragment, out)
    assert 'val.txt is empty (0 bytes)' in out.split('\nval:')[1]
    assert '6 problems found' in result.stderr


def test_browse_dataset_draws_every_target_over_its_image(demo_root,
                                                           tmp_path):
    out = tmp_path / 'panels'
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/browse_dataset.py',
         TINY_CONFIG, '--phase', 'val', '--not-show', '--output-dir',
         str(out), '--overlay', '0.5', '--cfg-options',
         f'val_dataloader.dataset.data_root={demo_root}'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    panels = sorted(glob.glob(str(out / '*.png')))
    dataset = build(demo_root, split='val')
    assert len(panels) == len(dataset) == 4
    tile = Config.fromfile(TINY_CONFIG).visualizer.get('tile_size',
                                                       (192, 192))
    for panel_path, index in zip(panels, range(len(dataset))):
        packed = dataset[index]
        image = packed['inputs'].numpy().transpose(1, 2, 0)[..., ::-1]
        h, w = tile[0], tile[0]  # square demo images
        panel = cv2.imread(panel_path)[..., ::-1]
        assert panel.shape[1] == w * (1 + len(TASKS))
        semseg = packed['data_samples'].gt_semseg.data[0].numpy()
        expected = cv2.addWeighted(image, 0.5, PALETTE[semseg], 0.5, 0)
        drawn = panel[LINE:LINE + h, w:2 * w]
        np.testing.assert_allclose(
            drawn.astype(int), cv2.resize(
                expected, (w, h), interpolation=cv2.INTER_NEAREST),
            atol=2)
