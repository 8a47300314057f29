"""MultiTaskInferencer and demo/image_demo.py on the tiny config."""
import glob
import os.path as osp
import re
import shutil
import subprocess
import sys

import cv2
import mmcv
import numpy as np
import pytest
import torch

from conftest import REPO, TINY_CONFIG, reference_outputs
from mmsquad.apis import MultiTaskInferencer, init_model
from mmsquad.apis.multitask_inferencer import resolve_config
from mmsquad.functional import PALETTE
from mmsquad.utils.precision import cpu_supports_bfloat16
from mmsquad.visualization.multitask_visualizer import LINE, legend_lines

TASKS = ['semseg', 'human_parts', 'sal', 'normals']


@pytest.fixture(scope='module')
def image_dir(demo_root, tmp_path_factory) -> str:
    """Three demo images, an undecodable .jpg and a text file."""
    folder = tmp_path_factory.mktemp('images')
    for path in sorted(glob.glob(osp.join(demo_root, 'JPEGImages',
                                          '*.jpg')))[:3]:
        shutil.copy(path, folder)
    (folder / 'broken.jpg').write_bytes(b'not a jpeg at all')
    (folder / 'notes.txt').write_text('not an image')
    return str(folder)


@pytest.fixture(scope='module')
def inferencer(tiny_checkpoint) -> MultiTaskInferencer:
    return MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                               device='cpu', show_progress=False)


def test_predictions_match_the_model_step_by_step(inferencer, image_dir,
                                                  tiny_checkpoint):
    paths = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))
    result = inferencer(paths, batch_size=2)
    model = init_model(TINY_CONFIG, tiny_checkpoint)
    images = np.stack([mmcv.imread(p) for p in paths])
    expected = reference_outputs(model, images)
    assert [p['img_path'] for p in result['predictions']] == paths
    for i, pred in enumerate(result['predictions']):
        for task in ('semseg', 'human_parts'):
            assert pred[task].dtype == np.uint8
            np.testing.assert_array_equal(
                pred[task], expected[task][i].argmax(0).numpy())
        np.testing.assert_allclose(pred['sal'], expected['sal'][i, 0],
                                   atol=1e-5)
        np.testing.assert_allclose(
            pred['normals'], expected['normals'][i].permute(1, 2, 0),
            atol=1e-5)


def test_directory_skips_unreadable_images_and_writes_outputs(
        inferencer, image_dir, tmp_path):
    out_dir = str(tmp_path / 'out')
    result = inferencer(image_dir, batch_size=2, out_dir=out_dir,
                        return_vis=True)
    assert len(result['predictions']) == 3
    assert result['skipped'] == [osp.join(image_dir, 'broken.jpg')]
    stems = [osp.splitext(osp.basename(p['img_path']))[0]
             for p in result['predictions']]
    for stem, panel in zip(stems, result['visualization']):
        written = mmcv.imread(osp.join(out_dir, 'vis', f'{stem}.png'),
                              channel_order='rgb')
        # One row: the input and one picture per task, 192x192 each under
        # a caption strip (semseg's legend below).
        assert written.shape[1] == 192 * (1 + len(TASKS))
        assert written.shape[0] >= LINE + 192 + LINE
        np.testing.assert_array_equal(written, panel)
        for task in TASKS:
            assert osp.isfile(osp.join(out_dir, 'vis', f'{stem}_{task}.png'))
        semseg = mmcv.imread(osp.join(out_dir, 'preds',
                                      f'{stem}_semseg.png'), flag='unchanged')
        pred = result['predictions'][stems.index(stem)]
        np.testing.assert_array_equal(semseg, pred['semseg'])
        normals = np.load(osp.join(out_dir, 'preds', f'{stem}_normals.npy'))
        np.testing.assert_allclose(normals, pred['normals'])


def test_array_input_equals_path_input(inferencer, image_dir):
    path = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))[0]
    from_path = inferencer(path)['predictions'][0]
    from_array = inferencer([mmcv.imread(path)])['predictions'][0]
    assert from_array['img_path'] is None
    for task in TASKS:
        np.testing.assert_allclose(from_array[task], from_path[task])


def test_task_subset_and_folding(tiny_checkpoint, image_dir):
    path = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))[0]
    plain = MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                                device='cpu', tasks=['sal'],
                                show_progress=False)
    folded = MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                                 device='cpu', tasks=['sal'], fold=True,
                                 show_progress=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in folded.model.modules())
    result = plain(path, return_vis=True)
    assert set(result['predictions'][0]) == {'img_path', 'exif_orientation', 'sal'}
    assert result['visualization'][0].shape == (LINE + 192, 2 * 192, 3)
    np.testing.assert_allclose(folded(path)['predictions'][0]['sal'],
                               result['predictions'][0]['sal'], atol=1e-5)


def test_bad_arguments_fail_with_the_reason(tiny_checkpoint):
    with pytest.raises(ValueError, match="unknown tasks \\['depth'\\]"):
        MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                            tasks=['depth'])
    with pytest.raises(ValueError, match='squad/pascal_ctx'):
        MultiTaskInferencer('no_such_model', weights=tiny_checkpoint)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MultiTaskInferencer(TINY_CONFIG, weights='missing.pth')


def test_config_names_resolve_to_shipped_configs():
    expected = osp.join(REPO, 'configs', 'squad', 'pascal_ctx.py')
    assert osp.samefile(resolve_config('squad/pascal_ctx'), expected)
    assert osp.samefile(resolve_config('pascal_ctx'), expected)


def test_image_demo_writes_the_panel(tiny_checkpoint, image_dir, tmp_path):
    image = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))[0]
    out_dir = tmp_path / 'demo_out'
    result = subprocess.run(
        [sys.executable, 'demo/image_demo.py', image, TINY_CONFIG,
         tiny_checkpoint, '--out-dir', str(out_dir), '--tasks', 'semseg',
         'normals'],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=300)
    # The log says what runs where, in which precision.
    assert "tasks ['semseg', 'normals'] on cpu in fp32" in \
        result.stdout + result.stderr
    stem = osp.splitext(osp.basename(image))[0]
    panel = mmcv.imread(str(out_dir / 'vis' / f'{stem}.png'))
    assert panel.shape[1] == 3 * 192
    assert sorted(p.name for p in (out_dir / 'preds').iterdir()) == [
        f'{stem}_normals.npy', f'{stem}_semseg.png']


def test_zero_byte_images_are_skipped_and_same_names_kept_apart(
        inferencer, image_dir, tmp_path):
    source = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))[0]
    root = tmp_path / 'nested'
    for name in ('a/x.jpg', 'b/x.jpg', 'a/x.png'):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        mmcv.imwrite(mmcv.imread(source), str(root / name))
    (root / 'a' / 'empty.jpg').write_bytes(b'')
    out_dir = tmp_path / 'out'
    result = inferencer(str(root), out_dir=str(out_dir))
    assert result['skipped'] == [str(root / 'a' / 'empty.jpg')]
    assert len(result['predictions']) == 3
    written = sorted(str(p.relative_to(out_dir / 'vis'))
                     for p in (out_dir / 'vis').rglob('*.png')
                     if '_' not in p.name)
    assert written == ['a/x.jpg.png', 'a/x.png.png', 'b/x.png']


def test_empty_directory_or_missing_input_fails(inferencer, tmp_path,
                                                tiny_checkpoint):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images'):
        inferencer(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        inferencer(str(tmp_path / 'nowhere.jpg'))
    for missing in (str(tmp_path / 'empty'), str(tmp_path / 'nowhere.jpg')):
        result = subprocess.run(
            [sys.executable, 'demo/image_demo.py', missing, TINY_CONFIG,
             tiny_checkpoint, '--out-dir', str(tmp_path / 'o')],
            cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode != 0
        assert osp.basename(missing) in result.stderr


def test_gray_and_bgra_arrays_are_accepted(inferencer, image_dir):
    bgr = mmcv.imread(sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))[0])
    gray = mmcv.bgr2gray(bgr)
    bgra = np.concatenate([bgr, np.full_like(bgr[..., :1], 255)], axis=2)
    result = inferencer([gray, bgra, mmcv.gray2bgr(gray), bgr])
    gray_pred, bgra_pred, gray3_pred, bgr_pred = result['predictions']
    for task in TASKS:
        np.testing.assert_allclose(gray_pred[task], gray3_pred[task])
        np.testing.assert_allclose(bgra_pred[task], bgr_pred[task])


def test_images_above_max_pixels_are_skipped_with_the_reason(
        tiny_checkpoint, image_dir):
    small = MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                                device='cpu', show_progress=False,
                                max_pixels=40 * 40)
    big = np.zeros((41, 40, 3), np.uint8)
    result = small([big, big[:40]])
    assert result['skipped'] == ['array_00000']
    assert len(result['predictions']) == 1


@pytest.mark.skipif(not cpu_supports_bfloat16(),
                    reason='bfloat16 inference needs avx512_bf16/AMX')
def test_bfloat16_predictions_agree_with_float32(tiny_checkpoint, image_dir):
    paths = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))
    results = {}
    for precision in ('fp32', 'bf16'):
        inferencer = MultiTaskInferencer(
            TINY_CONFIG, weights=tiny_checkpoint, device='cpu',
            show_progress=False, precision=precision)
        results[precision] = inferencer(paths)['predictions']
    for exact, half in zip(results['fp32'], results['bf16']):
        for task in ('semseg', 'human_parts'):
            assert (exact[task] == half[task]).mean() >= 0.99, task
        # Saliency probabilities within 0.02, normals within 2 degrees.
        assert np.abs(exact['sal'] - half['sal']).max() <= 0.02
        cos = (exact['normals'] * half['normals']).sum(-1).clip(-1, 1)
        assert np.degrees(np.arccos(cos)).max() <= 2.0
        assert not np.array_equal(exact['sal'], half['sal'])  # bf16 ran


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA machine')
@pytest.mark.parametrize('device, reason', [
    ('cuda', "'cuda': this machine has no CUDA devices; use cpu"),
    ('cuda:1', "'cuda:1': this machine has no CUDA devices; use cpu"),
    ('gpu', "'gpu': Expected one of")])
def test_a_device_this_machine_lacks_fails_with_the_reason(
        tiny_checkpoint, device, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                            device=device)


def test_float16_on_the_cpu_fails_clearly(tiny_checkpoint):
    with pytest.raises(ValueError, match='fp16 needs a CUDA device'):
        MultiTaskInferencer(TINY_CONFIG, weights=tiny_checkpoint,
                            device='cpu', precision='fp16')


def test_panels_keep_the_aspect_name_the_classes_and_caption_apart():
    """A 60x120 image: every picture 2x as wide as high; captions in their
    own strip above the untouched pictures; a legend strip naming the label
    map's classes (the dataset's names) below."""
    from mmengine.structures import PixelData

    from mmsquad.registry import VISUALIZERS
    from mmsquad.structures import MultiTaskDataSample
    from mmsquad.tasks import build_tasks
    visualizer = VISUALIZERS.build(dict(type='MultiTaskVisualizer',
                                        name='aspect_panel',
                                        tile_size=(60, 60)))
    visualizer.dataset_meta = dict(task_classes=dict(
        semseg=[f'class{i}' for i in range(21)]))
    tasks = build_tasks(['semseg', 'sal'])
    image = np.full((60, 120, 3), 100, np.uint8)
    labels = torch.zeros(1, 60, 120, dtype=torch.long)
    labels[:, :, 80:] = 15
    sample = MultiTaskDataSample()
    sample.pred_semseg = PixelData(data=labels)
    sample.pred_sal = PixelData(data=torch.full((1, 60, 120), 0.5))
    panel = visualizer.make_panel(image, sample, tasks)
    legend = tasks['semseg'].legend(
        sample.pred_semseg, visualizer.class_names('semseg', tasks['semseg']))
    assert legend == [(tuple(int(c) for c in PALETTE[0]), 'class0'),
                      (tuple(int(c) for c in PALETTE[15]), 'class15')]
    lines = len(legend_lines(legend, 120))
    assert panel.shape == (LINE + 60 + lines * LINE, 3 * 120, 3)
    np.testing.assert_array_equal(panel[LINE:LINE + 60, :120], image)
    semseg = panel[LINE:LINE + 60, 120:240]
    assert (semseg[:, 79] == PALETTE[0]).all()
    assert (semseg[:, 80] == PALETTE[15]).all()
    assert (panel[:LINE] != 0).any()  # the captions
    assert (panel[LINE + 60:, 120:240] != 0).any()  # semseg's legend
    assert not (panel[LINE + 60:, 240:] != 0).any()  # sal has none
    # Without legends, the panel is the pictures under their captions, of
    # one size whatever classes a frame shows (a video's frames must be).
    bare = visualizer.make_panel(image, sample, tasks, legends=False)
    assert bare.shape == (LINE + 60, 3 * 120, 3)
    np.testing.assert_array_equal(bare, panel[:LINE + 60])


def write_video(path: str, frames, fourcc: str = 'FFV1',
                fps: float = 7.0) -> None:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()


def read_video(path: str) -> list:
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def video_demo(*args):
    return subprocess.run([sys.executable, 'demo/video_demo.py', *args],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def odd_video(image_dir, tmp_path_factory) -> tuple:
    """Five 36x52 frames from the demo images (their panels are of an odd
    width), as a lossless video (FFV1) and as decoded from it."""
    paths = sorted(glob.glob(osp.join(image_dir, 'demo_*.jpg')))
    frames = [cv2.resize(mmcv.imread(paths[i % len(paths)]), (52, 36))
              for i in range(5)]
    path = str(tmp_path_factory.mktemp('video') / 'odd.avi')
    write_video(path, frames)
    return path, read_video(path)


def test_video_demo_writes_a_panel_per_frame_at_any_size(
        odd_video, inferencer, tiny_checkpoint, tmp_path):
    """Every frame's panel (legends left out, so that all have one size)
    equals the inferencer's on that frame alone; an odd size gets a black
    row and column (video writers cut them off); the frame rate is the
    input's."""
    video, frames = odd_video
    out = str(tmp_path / 'panels.avi')
    result = video_demo(video, TINY_CONFIG, tiny_checkpoint, '--out', out,
                        '--fourcc', 'FFV1', '--batch-size', '2')
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'5 frame(s) written to {out}' in result.stdout
    written = read_video(out)
    assert len(written) == 5
    assert cv2.VideoCapture(out).get(cv2.CAP_PROP_FPS) == 7.0
    for frame, panel_bgr in zip(frames, written):
        sample = inferencer(frame, return_datasamples=True)['predictions'][0]
        panel = inferencer.visualizer.make_panel(
            mmcv.bgr2rgb(frame), sample, inferencer.tasks, legends=False)
        height, width = panel.shape[:2]
        assert width % 2  # 5 pictures 277 pixels wide
        assert panel_bgr.shape == (height + height % 2, width + width % 2, 3)
        np.testing.assert_array_equal(panel_bgr[:height, :width],
                                      panel[..., ::-1])
        assert not panel_bgr[height:].any() and \
            not panel_bgr[:, width:].any()


def test_video_demo_writes_one_task_at_the_frame_size(
        odd_video, inferencer, tiny_checkpoint, tmp_path):
    video, frames = odd_video
    out = str(tmp_path / 'sal.avi')
    result = video_demo(video, TINY_CONFIG, tiny_checkpoint, '--out', out,
                        '--fourcc', 'FFV1', '--picture', 'sal')
    assert result.returncode == 0, result.stderr[-3000:]
    written = read_video(out)
    assert len(written) == 5
    task = inferencer.tasks['sal']
    for frame, picture_bgr in zip(frames, written):
        sample = inferencer(frame, return_datasamples=True)['predictions'][0]
        picture = task.draw(mmcv.bgr2rgb(frame), sample.pred_sal, ())
        assert picture.shape == picture_bgr.shape == (36, 52, 3)
        np.testing.assert_array_equal(picture_bgr, picture[..., ::-1])


@pytest.mark.parametrize('args, message', [
    (['--picture', 'depth'], r"--picture depth: not one of the tasks drawn, "
     r"\['semseg', 'human_parts', 'sal', 'normals'\]"),
    (['--out', 'x.gif'], r'--out x.gif: give a .mp4, .avi or .mkv file'),
    (['--fourcc', 'H26'], r"--fourcc 'H26': a codec has four characters"),
    (['--out', '{video}'], r'--out .*odd.avi is the input video'),
])
def test_video_demo_refuses_bad_arguments(odd_video, tiny_checkpoint, args,
                                          message):
    video = odd_video[0]
    result = video_demo(video, TINY_CONFIG, tiny_checkpoint,
                        *(a.format(video=video) for a in args))
    assert result.returncode != 0
    assert re.search(message, result.stderr), result.stderr[-2000:]


def test_video_demo_names_a_file_it_cannot_decode(tiny_checkpoint,
                                                  tmp_path):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video')
    result = video_demo(str(broken), TINY_CONFIG, tiny_checkpoint)
    assert result.returncode != 0
    assert f'{broken}: not a video that OpenCV can decode' in result.stderr
    result = video_demo(str(tmp_path / 'missing.mp4'), TINY_CONFIG,
                        tiny_checkpoint)
    assert f'Video file not found: {tmp_path}/missing.mp4' in result.stderr
