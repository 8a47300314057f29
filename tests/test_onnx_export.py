"""ONNX export: onnxruntime matches PyTorch, static and dynamic shapes."""
import os.path as osp
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch

from conftest import REPO, TINY_CONFIG, reference_outputs
from mmsquad.apis import init_model
from mmsquad.deployment import export_onnx
from mmsquad.models.deploy import fold_batchnorm

TASKS = ['semseg', 'human_parts', 'sal', 'normals']


def run_onnx(onnx_file: str, images: np.ndarray) -> dict:
    """``{output name: array}`` for (N, H, W, 3) uint8 BGR ``images``."""
    session = onnxruntime.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    feed = {'image': images.transpose(0, 3, 1, 2).astype(np.float32)}
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed)))


def assert_parity(onnx_out: dict, expected: dict) -> None:
    assert list(onnx_out) == TASKS
    for task in TASKS:
        ref = expected[task].numpy()
        assert onnx_out[task].shape == ref.shape
        rel = np.linalg.norm(onnx_out[task] - ref) / np.linalg.norm(ref)
        assert rel <= 1e-4, f'{task}: relative error {rel:.2e}'


def random_images(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3),
                                                dtype=np.uint8)


def test_export_tool_output_matches_pytorch(tiny_checkpoint, tmp_path):
    out = str(tmp_path / 'tiny.onnx')
    result = subprocess.run(
        [sys.executable, 'tools/deployment/export_onnx.py', TINY_CONFIG,
         tiny_checkpoint, '--shape', '32', '48', '--out', out],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'relative error' in result.stdout
    model = init_model(TINY_CONFIG, tiny_checkpoint)
    images = random_images(1, 32, 48)
    assert_parity(run_onnx(out, images), reference_outputs(model, images))


def test_dynamic_export_runs_other_sizes_and_batches(tiny_checkpoint,
                                                     tmp_path):
    model = init_model(TINY_CONFIG, tiny_checkpoint)
    out = str(tmp_path / 'dynamic.onnx')
    export_onnx(fold_batchnorm(init_model(TINY_CONFIG, tiny_checkpoint)),
                out, (32, 32), dynamic=True)
    for n, h, w in [(1, 32, 32), (3, 64, 40)]:
        images = random_images(n, h, w, seed=h)
        assert_parity(run_onnx(out, images),
                      reference_outputs(model, images))


def test_export_tool_names_a_missing_checkpoint(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/deployment/export_onnx.py', TINY_CONFIG,
         str(tmp_path / 'missing.pth'), '--shape', '32', '32'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'missing.pth does not exist' in result.stderr


def test_export_rejects_an_input_smaller_than_the_stride(tiny_checkpoint,
                                                         tmp_path):
    model = init_model(TINY_CONFIG, tiny_checkpoint)
    with pytest.raises(ValueError, match='at least 8x8 pixels'):
        export_onnx(model, str(tmp_path / 'small.onnx'), (4, 16))
    assert not osp.exists(tmp_path / 'small.onnx')


def test_detection_and_enhancement_model_exports_raw_head_outputs(tmp_path):
    """The underwater model exports: the enhanced image, and the mmdet
    head's per-level class scores and box deltas (decoding and NMS stay
    outside the graph)."""
    model = fold_batchnorm(init_model(
        osp.join(REPO, 'configs', 'squad', 'underwater_demo.py')))
    out = str(tmp_path / 'underwater.onnx')
    wrapper = export_onnx(model, out, (64, 64))
    image = random_images(1, 64, 64)
    onnx_out = run_onnx(out, image)
    with torch.no_grad():
        expected = wrapper.outputs(
            torch.from_numpy(image.transpose(0, 3, 1, 2)).float())
    levels = len(model.heads['det'].head.prior_generator.strides)
    assert list(onnx_out) == ['det.0_' + str(i) for i in range(levels)] + [
        'det.1_' + str(i) for i in range(levels)] + ['enhance']
    for name, ref in expected.items():
        ref = ref.numpy()
        rel = np.linalg.norm(onnx_out[name] - ref) / np.linalg.norm(ref)
        assert rel <= 1e-4, f'{name}: relative error {rel:.2e}'
