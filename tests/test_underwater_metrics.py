"""Underwater metrics: enhancement measures against hand-computed values,
scikit-image and plain-loop implementations of the published definitions;
the COCO detection metric against mmdet's."""
import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from mmsquad.datasets.underwater_mt import DUO_CLASSES
from mmsquad.functional import psnr, ssim, uciqe, uicm, uiconm, uiqm, uism
from mmsquad.registry import METRICS


def random_rgb(seed, shape=(24, 40, 3)):
    return np.random.default_rng(seed).uniform(0, 255, shape)


# ---- plain-loop references, written from the definitions -----------------

def ref_trimmed_mean(values, alpha=0.1):
    values = sorted(values)
    k = len(values)
    kept = values[math.ceil(alpha * k):k - math.floor(alpha * k)]
    return sum(kept) / len(kept)


def ref_uicm(rgb):
    rg, yb = [], []
    for r, g, b in rgb.reshape(-1, 3):
        rg.append(r - g)
        yb.append((r + g) / 2 - b)
    mu_rg, mu_yb = ref_trimmed_mean(rg), ref_trimmed_mean(yb)
    var = (sum((v - mu_rg)**2 for v in rg) / len(rg) +
           sum((v - mu_yb)**2 for v in yb) / len(yb))
    return -0.0268 * math.sqrt(mu_rg**2 + mu_yb**2) + 0.1586 * math.sqrt(var)


def ref_sobel_magnitude(x):
    """3x3 Sobel with mirrored borders (edge pixel repeated)."""
    p = np.pad(x, 1, mode='symmetric')
    h, w = x.shape
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            win = p[i:i + 3, j:j + 3]
            gy = (win[2, 0] + 2 * win[2, 1] + win[2, 2]) - \
                (win[0, 0] + 2 * win[0, 1] + win[0, 2])
            gx = (win[0, 2] + 2 * win[1, 2] + win[2, 2]) - \
                (win[0, 0] + 2 * win[1, 0] + win[2, 0])
            out[i, j] = math.sqrt(gx * gx + gy * gy)
    return out


def ref_blocks(x, block=8):
    for i in range(x.shape[0] // block):
        for j in range(x.shape[1] // block):
            yield x[i * block:(i + 1) * block, j * block:(j + 1) * block]


def ref_eme(x):
    blocks = list(ref_blocks(x))
    total = 0.0
    for blk in blocks:
        if blk.max() > 0 and blk.min() > 0:
            total += math.log(blk.max() / blk.min())
    return 2 * total / len(blocks)


def ref_uism(rgb):
    return sum(w * ref_eme(ref_sobel_magnitude(rgb[..., c]) * rgb[..., c])
               for c, w in enumerate((0.299, 0.587, 0.114)))


def ref_uiconm(rgb):
    gray = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    blocks = list(ref_blocks(gray))
    total = 0.0
    for blk in blocks:
        hi, lo = blk.max(), blk.min()
        minus = 1026 * (hi - lo) / (1026 - lo)  # PLIP subtraction
        plus = hi + lo - hi * lo / 1026  # PLIP addition
        if minus > 0 and plus > 0:
            r = minus / plus
            total += r * math.log(r)
    return -total / len(blocks)


def ref_lab(rgb):
    """sRGB [0, 255] -> CIELab (D65), by the CIE formulas."""
    c = rgb / 255.0
    lin = np.where(c > 0.04045, ((c + 0.055) / 1.055)**2.4, c / 12.92)
    m = np.array([[0.412453, 0.357580, 0.180423],
                  [0.212671, 0.715160, 0.072169],
                  [0.019334, 0.119193, 0.950227]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lum = np.where(xyz[..., 1] > 0.008856, 116 * f[..., 1] - 16,
                   903.3 * xyz[..., 1])
    return lum, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])


def ref_uciqe(rgb):
    lum, a, b = ref_lab(rgb)
    lum = list((lum / 100).ravel())
    chroma = list((np.sqrt(a**2 + b**2) / 100).ravel())
    n = len(lum)
    mean_c = sum(chroma) / n
    sigma_c = math.sqrt(sum((v - mean_c)**2 for v in chroma) / n)
    top = max(1, round(0.01 * n))
    ordered = sorted(lum)
    con_l = sum(ordered[-top:]) / top - sum(ordered[:top]) / top
    sat = [c / math.sqrt(c * c + v * v) if c or v else 0.0
           for c, v in zip(chroma, lum)]
    return 0.4680 * sigma_c + 0.2745 * con_l + 0.2576 * sum(sat) / n


# ---- plain loops of the reference implementations' procedure --------------

def ref_reference_trimmed_mean(values, alpha=0.1):
    """ceil(0.1 K) + 1 smallest and floor(0.1 K) largest dropped, the sum
    divided by K - ceil(0.1 K) - floor(0.1 K)."""
    values = sorted(values)
    k = len(values)
    lo, hi = math.ceil(alpha * k), math.floor(alpha * k)
    return sum(values[lo + 1:k - hi]) / (k - lo - hi)


def ref_reference_uiqm(rgb):
    rg = [r - g for r, g, _ in rgb.reshape(-1, 3)]
    yb = [(r + g) / 2 - b for r, g, b in rgb.reshape(-1, 3)]
    mu_rg, mu_yb = ref_reference_trimmed_mean(rg), \
        ref_reference_trimmed_mean(yb)
    var = (sum((v - mu_rg)**2 for v in rg) / len(rg) +
           sum((v - mu_yb)**2 for v in yb) / len(yb))
    colour = -0.0268 * math.hypot(mu_rg, mu_yb) + 0.1586 * math.sqrt(var)
    sharpness = 0.0
    for c, weight in enumerate((0.299, 0.587, 0.144)):
        edges = ref_sobel_magnitude(rgb[..., c])
        edges = edges * 255.0 / edges.max()
        blocks = list(ref_blocks(edges * rgb[..., c], 10))
        total = sum(math.log(b.max() / b.min()) for b in blocks
                    if b.max() > 0 and b.min() > 0)
        sharpness += weight * 2 * total / len(blocks)
    contrast, blocks = 0.0, list(ref_blocks(rgb, 10))
    for blk in blocks:  # max and min over the block's three channels
        top, bottom = blk.max() - blk.min(), blk.max() + blk.min()
        if top > 0 and bottom > 0:
            contrast += top / bottom * math.log(top / bottom)
    contrast = -contrast / len(blocks)
    return 0.0282 * colour + 0.2953 * sharpness + 3.5753 * contrast


def ref_reference_uciqe(rgb):
    """OpenCV's 8-bit Lab encoding of the CIE values (L * 255 / 100, a and
    b + 128, rounded), each / 255."""
    lum, a, b = ref_lab(rgb)
    lum = list((np.round(lum * 255 / 100) / 255).ravel())
    a, b = np.round(a + 128) / 255, np.round(b + 128) / 255
    chroma = list(np.sqrt(a**2 + b**2).ravel())
    n = len(lum)
    mean_c = sum(chroma) / n
    sigma_c = math.sqrt(sum((v - mean_c)**2 for v in chroma) / n)
    ordered = sorted(lum)
    con_l = ordered[int(n * 0.99)] - ordered[int(n * 0.01)]
    sat = [c / v if v else 0.0 for c, v in zip(chroma, lum)]
    return 0.4680 * sigma_c + 0.2745 * con_l + 0.2576 * sum(sat) / n


# ---- tests ----------------------------------------------------------------

def test_psnr_by_hand():
    ref = torch.full((3, 4, 4), 0.5)
    assert psnr(ref + 0.1, ref) == pytest.approx(20.0)  # MSE 0.01
    assert psnr(ref, ref) == math.inf


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 1, (3, 48, 40))
    pred = np.clip(ref + rng.normal(0, 0.1, ref.shape), 0, 1)
    expected = structural_similarity(
        pred, ref, channel_axis=0, data_range=1.0, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False)
    got = ssim(torch.from_numpy(pred), torch.from_numpy(ref))
    assert got == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize('seed', [0, 1])
def test_uiqm_components_match_plain_loops(seed):
    rgb = random_rgb(seed)
    rgb[:8, :8] = 0  # a block with a zero extreme adds nothing to EME
    assert uicm(rgb) == pytest.approx(ref_uicm(rgb), rel=1e-9)
    assert uism(rgb) == pytest.approx(ref_uism(rgb), rel=1e-9)
    assert uiconm(rgb) == pytest.approx(ref_uiconm(rgb), rel=1e-9)
    assert uiqm(rgb) == pytest.approx(
        0.0282 * ref_uicm(rgb) + 0.2953 * ref_uism(rgb) +
        3.5753 * ref_uiconm(rgb), rel=1e-9)


def test_uiqm_by_hand_on_flat_images():
    grey = np.full((16, 16, 3), 100.0)
    # No colour: UICM 0; flat blocks: no edges, no contrast.
    assert uicm(grey) == pytest.approx(0.0)
    assert uism(grey) == 0.0 and uiconm(grey) == 0.0
    red = np.zeros((8, 8, 3))
    red[..., 0] = 90.0
    # RG = 90 and YB = 45 everywhere, no spread.
    assert uicm(red) == pytest.approx(-0.0268 * math.hypot(90, 45))
    half = np.full((8, 8, 3), 50.0)
    half[:, 4:] = 150.0
    minus = 1026 * 100 / (1026 - 50)
    plus = 200 - 150 * 50 / 1026
    r = minus / plus
    assert uiconm(half) == pytest.approx(-r * math.log(r))


@pytest.mark.parametrize('seed', [0, 1])
def test_reference_mode_reproduces_the_published_implementations(seed):
    rgb = np.round(random_rgb(seed, (32, 45, 3)))
    rgb[:10, :10] = 0
    assert uiqm(rgb, mode='reference') == pytest.approx(
        ref_reference_uiqm(rgb), rel=1e-9)
    assert uiqm(rgb, mode='reference') != pytest.approx(uiqm(rgb), rel=1e-3)
    assert uciqe(rgb, mode='reference') == pytest.approx(
        ref_reference_uciqe(rgb), abs=3e-3)
    with pytest.raises(ValueError, match='mode must be one of'):
        uiqm(rgb, mode='matlab')


@pytest.mark.parametrize('seed', [0, 1])
def test_uciqe_matches_the_cie_formulas(seed):
    rgb = random_rgb(seed, (12, 20, 3))
    assert uciqe(rgb) == pytest.approx(ref_uciqe(rgb), rel=2e-4)


def test_image_task_metrics_average_over_the_right_samples():
    rng = np.random.default_rng(0)
    preds = [torch.from_numpy(rng.uniform(0, 1, (3, 16, 16))).float()
             for _ in range(2)]
    ref = (preds[0] + 0.05).clamp(0, 1)
    metric = METRICS.build(dict(type='MultiTaskMetric', tasks=['enhance']))
    metric.dataset_meta = {}
    metric.process({}, [
        dict(pred_enhance=dict(data=preds[0]), gt_enhance=dict(data=ref)),
        dict(pred_enhance=dict(data=preds[1])),  # no reference
    ])
    results = metric.evaluate(2)
    assert results['enhance/psnr'] == pytest.approx(psnr(preds[0], ref))
    assert results['enhance/ssim'] == pytest.approx(ssim(preds[0], ref))
    quantised = [np.round(p.permute(1, 2, 0).numpy() * 255) for p in preds]
    assert results['enhance/uiqm'] == pytest.approx(
        np.mean([uiqm(q) for q in quantised]))
    assert results['enhance/uciqe'] == pytest.approx(
        np.mean([uciqe(q) for q in quantised]))
    with pytest.raises(ValueError, match='a.jpg'):
        metric.process({}, [dict(pred_enhance=dict(data=preds[0]),
                                 gt_enhance=dict(data=ref[:, :8]),
                                 img_path='a.jpg')])


def coco_predictions(ann_file: str, detect: bool) -> list:
    """One prediction per test image: its ground-truth boxes (score 1), or
    nothing."""
    with open(ann_file) as f:
        coco = json.load(f)
    cat_index = {c['id']: DUO_CLASSES.index(c['name'])
                 for c in coco['categories']}
    samples = []
    for image in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in
                              (a['bbox'] for a in anns)]).reshape(-1, 4)
        keep = len(anns) if detect else 0
        samples.append(dict(
            img_id=image['id'], ori_shape=(image['height'], image['width']),
            pred_instances=dict(
                bboxes=boxes[:keep], scores=torch.ones(keep),
                labels=torch.tensor([cat_index[a['category_id']]
                                     for a in anns][:keep],
                                    dtype=torch.long))))
    return samples


@pytest.mark.parametrize('detect', [True, False],
                         ids=['perfect', 'nothing-detected'])
def test_coco_detection_metric_reports_even_without_detections(
        underwater_root, detect):
    ann_file = underwater_root + '/annotations/instances_test.json'
    samples = coco_predictions(ann_file, detect)
    results = {}
    for scope, name in (('mmsquad', 'CocoDetectionMetric'),
                        ('mmdet', 'CocoMetric')):
        metric = METRICS.build(dict(type=f'{scope}.{name}',
                                    ann_file=ann_file, metric='bbox'))
        metric.dataset_meta = dict(classes=DUO_CLASSES)
        metric.process({}, samples)
        results[name] = metric.evaluate(len(samples))
    if detect:  # the same numbers as mmdet's metric
        assert results['CocoDetectionMetric'] == results['CocoMetric']
        assert results['CocoMetric']['coco/bbox_mAP'] == 1.0
    else:  # mmdet's metric reports nothing; ours zero precision
        assert results['CocoMetric'] == {}
        assert results['CocoDetectionMetric'] == {
            f'coco/bbox_{item}': 0.0 for item in
            ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')}
