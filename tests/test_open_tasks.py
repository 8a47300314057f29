"""Tasks mmsquad does not ship, defined in a config alone
(tests/configs/open_tasks.py): a 2-class foreground map next to the
21-class semseg, the 59-class PASCAL-Context labels under another name and
a whole-image label, trained, evaluated, visualised, inferred and exported
with no change to mmsquad."""
import glob
import os
import os.path as osp
import shutil
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from conftest import REPO
from mmsquad.apis import MultiTaskInferencer, init_model
from mmsquad.datasets.pascal_context_mt import PERSON_CLASS
from mmsquad.deployment import export_onnx, onnx_relative_errors

CONFIG = osp.join(REPO, 'tests', 'configs', 'open_tasks.py')


@pytest.fixture(scope='module')
def trained(demo_root, tmp_path_factory):
    """The open-tasks config trained for its two epochs on the demo data,
    with 59-class labels written where the layout keeps them and a
    has-person label per image."""
    root = str(tmp_path_factory.mktemp('open') / 'PASCAL_MT')
    shutil.copytree(demo_root, root)
    context = osp.join(root, 'semseg', 'pascal-context')
    for path in glob.glob(osp.join(root, 'semseg', 'VOC12', '*.png')):
        labels = np.array(Image.open(path))
        # Any labelling of 59 classes will do: spread the 21 over 0..58.
        spread = np.where(labels == 255, 255, labels * 2 + 17).astype(
            np.uint8)
        os.makedirs(context, exist_ok=True)
        Image.fromarray(spread).save(osp.join(context, osp.basename(path)))
        os.makedirs(osp.join(root, 'has_person'), exist_ok=True)
        stem = osp.splitext(osp.basename(path))[0]
        with open(osp.join(root, 'has_person', f'{stem}.txt'), 'w') as f:
            f.write(str(int((labels == PERSON_CLASS).any())))
    cfg = Config.fromfile(CONFIG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    cfg.work_dir = str(tmp_path_factory.mktemp('open_work'))
    cfg.experiment_name = f'open_{uuid.uuid4().hex}'
    cfg.visualizer.name = cfg.experiment_name
    runner = Runner.from_cfg(cfg)
    runner.train()
    return dict(runner=runner, root=root,
                checkpoint=osp.join(cfg.work_dir, 'epoch_2.pth'))


def test_new_tasks_train_and_evaluate(trained):
    runner = trained['runner']
    model = runner.model
    assert model.heads['context59'].out_channels == 59
    assert model.heads['foreground'].out_channels == 2
    assert model.heads['semseg'].out_channels == 21
    assert model.heads['has_person'].out_channels == 2
    assert model.backbone.num_tasks == 4  # filled in from the heads
    scalars = runner.message_hub.log_scalars
    for key in ('semseg/mIoU', 'context59/mIoU', 'foreground/mIoU',
                'has_person/accuracy'):
        assert np.isfinite(scalars[f'val/{key}'].current()), key


def test_new_tasks_infer_draw_and_save(trained, demo_root, tmp_path):
    inferencer = MultiTaskInferencer(CONFIG, weights=trained['checkpoint'],
                                     device='cpu', show_progress=False)
    images = sorted(glob.glob(osp.join(demo_root, 'JPEGImages', '*.jpg')))
    result = inferencer(images[:2], out_dir=str(tmp_path), return_vis=True)
    for prediction in result['predictions']:
        assert set(prediction) == {'img_path', 'exif_orientation', 'semseg',
                                   'context59', 'foreground', 'has_person'}
        assert prediction['context59'].shape == (32, 32)
        assert prediction['context59'].max() < 59
        assert set(np.unique(prediction['foreground'])) <= {0, 1}
        assert prediction['has_person']['label'][0] in (0, 1)
        assert prediction['has_person']['scores'].sum() == pytest.approx(1)
    # The panel: input + 4 tasks in one row (no targets), 192 px tiles.
    assert result['visualization'][0].shape[1] == 5 * 192
    stem = osp.splitext(osp.basename(images[0]))[0]
    for name in ('context59', 'foreground', 'has_person'):
        assert osp.isfile(tmp_path / 'vis' / f'{stem}_{name}.png')
    for name in ('context59', 'foreground'):
        assert osp.isfile(tmp_path / 'preds' / f'{stem}_{name}.png')
    assert osp.isfile(tmp_path / 'preds' / f'{stem}_has_person.json')


def test_new_tasks_export(trained, tmp_path):
    model = init_model(CONFIG, trained['checkpoint']).eval()
    out = str(tmp_path / 'open.onnx')
    wrapper = export_onnx(model, out, (32, 48))
    errors = onnx_relative_errors(wrapper, out, torch.rand(1, 3, 32, 48) *
                                  255)
    assert list(errors) == ['semseg', 'context59', 'foreground',
                            'has_person']
    assert max(errors.values()) < 1e-4


def test_new_tasks_merge_test_time_views(trained):
    """One test-time view merged through MultiTaskTTAModel: every new
    task's prediction, the image label's too, is the plain test's."""
    from mmengine.dataset import pseudo_collate

    from mmsquad.models import MultiTaskTTAModel
    from mmsquad.registry import DATASETS
    model = trained['runner'].model
    dataset = Config.fromfile(CONFIG).test_dataloader.dataset
    dataset.data_root = trained['root']
    steps = dataset.pipeline
    plain = DATASETS.build(dataset)
    dataset.pipeline = [steps[0], dict(type='TestTimeAug', transforms=[
        [dict(type='MultiTaskRandomFlip', prob=0.)],
        *[[step] for step in steps[1:]]])]
    views = DATASETS.build(dataset)
    with torch.no_grad():
        expected = model.test_step(pseudo_collate(
            [plain[i] for i in range(len(plain))]))
        merged = MultiTaskTTAModel(module=model).test_step(pseudo_collate(
            [views[i] for i in range(len(views))]))
    for got, want in zip(merged, expected):
        for task in ('semseg', 'context59', 'foreground'):
            assert torch.equal(got.get(f'pred_{task}').data,
                               want.get(f'pred_{task}').data)
        assert torch.equal(got.pred_has_person.label,
                           want.pred_has_person.label)
        torch.testing.assert_close(got.pred_has_person.score,
                                   want.pred_has_person.score)
