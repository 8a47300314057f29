"""The compatibility matrix (``make compat``): a fixed representative
subset of mmdet's and mmseg's model families hosted by the tool as CI can
afford, the rules it classifies by, and the recorded matrix checked
against the installed packages."""
import os.path as osp
import re
import subprocess
import sys

import pytest

import mmdet
import mmseg
from conftest import REPO
from toolkit import compat

DOC = osp.join(REPO, 'docs', 'compatibility.md')
#: What each family of the CI subset must end as (every status but FAILED;
#: a one-stage and a query-based detector; a single-level decode head with
#: an auxiliary head, and two multi-level ones).
SUBSET = {
    'mmdet:retinanet': 'works',
    'mmdet:detr': 'works',
    'mmdet:boxinst': 'refused',
    'mmdet:bytetrack': 'not a task model',
    'mmdet:common': 'not a task model',
    'mmseg:pspnet': 'works',
    'mmseg:upernet': 'works',
    'mmseg:sem_fpn': 'works',
    'mmseg:ocrnet': 'works',  # a cascade, trained as mmseg's
    'mmseg:ddrnet': 'refused',  # reads its own backbone's outputs
}


def test_a_representative_subset_ends_as_expected(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/compat_matrix.py',
         '--work-dir', str(tmp_path), '--families', *SUBSET],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ended = dict(re.findall(r'^\[\d+/\d+\] (\S+): (works|refused|not a '
                            r'task model|FAILED) ', result.stdout, re.M))
    assert ended == SUBSET, result.stdout
    assert 'mmdet detector families: 2 works, 1 refused, 2 not a task ' \
        'model, 0 FAILED of 5' in result.stdout
    assert 'mmseg decode-head families: 4 works, 1 refused, 0 not a task ' \
        'model, 0 FAILED of 5' in result.stdout
    # A second run takes every family from the cache.
    again = subprocess.run(
        [sys.executable, 'tools/analysis_tools/compat_matrix.py',
         '--work-dir', str(tmp_path), '--families', 'mmdet:retinanet'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert '(cached)' in again.stdout


def test_summary_lines_count_each_status():
    outcomes = [compat.Outcome(f'f{i}', '', status, '', 0.0)
                for i, status in enumerate(
                    ['works', 'works', 'refused', 'FAILED',
                     'not a task model', 'works'])]
    assert compat.summary_line('mmdet', outcomes) == (
        'mmdet detector families: 3 works, 1 refused, 1 not a task model, '
        '1 FAILED of 6')
    assert compat.summary_line('mmseg', outcomes[:1]).startswith(
        'mmseg decode-head families: 1 works, 0 refused')


def _raise_from_mmsquad():
    from mmsquad.models.heads.decode_head_adapter import refuse_unhostable
    from mmsquad.tasks import build_task
    refuse_unhostable([dict(_scope_='mmseg', type='OCRHead')],
                      build_task('semseg'), None, None)


def _raise_from_mmdet():
    from mmdet.models.necks import SSDNeck
    SSDNeck(in_channels=(1, 2, 3), out_channels=(1,), level_strides=(),
            level_paddings=())


@pytest.mark.parametrize('raise_it, refused', [
    (_raise_from_mmsquad, True), (_raise_from_mmdet, False)])
def test_only_mmsquads_own_errors_count_as_refusals(raise_it, refused):
    with pytest.raises(Exception) as error:
        raise_it()
    assert compat.raised_by_mmsquad(error.value) is refused


def test_representative_is_the_first_config_the_metafile_lists():
    assert compat.representative('mmdet', 'ssd') == 'ssd/ssd300_coco.py'
    assert compat.representative('mmdet', 'common') is None


def test_a_backbone_family_is_hosted_and_checked_against_its_own_output():
    """The mmpretrain check, run on a config of the installed mmseg (the
    same rules: its ``model.backbone`` under an FCN head): it trains, and
    the features the heads get are the backbone's own outputs."""
    path = osp.join(compat.configs_dir('mmseg'),
                    'fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py')
    assert compat.check_backbone(path, '', 64) == ('works', 'ResNetV1c')


def test_mmpretrain_is_skipped_with_the_reason_where_it_cannot_import():
    why = compat.unavailable('mmpretrain')
    if why is None:
        pytest.skip('mmpretrain and torchvision import here')
    assert why.startswith(('torchvision cannot be imported',
                           'mmpretrain cannot be imported'))
    text = open(DOC).read()
    assert '## mmpretrain\n\nNot checked: ' in text


def _rows(text: str, package: str) -> list:
    section = text.split(f'## {package}\n', 1)[1].split('\n## ', 1)[0]
    return [line.split(' | ')[0].lstrip('| ').strip()
            for line in section.splitlines()
            if line.startswith('| ') and not line.startswith('| family')]


def test_the_recorded_matrix_covers_every_installed_family():
    """docs/compatibility.md (written by make compat) lists every family
    folder of the installed mmdet and mmseg once, was made with their
    versions, and its summary lines count its rows."""
    text = open(DOC).read()
    assert f'mmdet {mmdet.__version__}' in text
    assert f'mmseg {mmseg.__version__}' in text
    for package in compat.PACKAGES:
        families = _rows(text, package)
        assert families == compat.families(package), package
        section = text.split(f'## {package}\n', 1)[1].split('\n## ', 1)[0]
        statuses = [line.split(' | ')[2] for line in section.splitlines()
                    if line.startswith('| ') and
                    not line.startswith('| family')]
        outcomes = [compat.Outcome(f, '', s, '', 0.0)
                    for f, s in zip(families, statuses)]
        assert compat.summary_line(package, outcomes) in text
