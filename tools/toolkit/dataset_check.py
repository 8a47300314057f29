"""Scanning a config's datasets before a long run: every file and every
sample checked the way training loads them, every problem listed at once
(``tools/misc/check_dataset.py``)."""
import copy
import inspect
from collections import Counter
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from mmengine.config import Config
from rich.progress import track
from torch.utils.data import DataLoader, Dataset

from mmsquad.registry import DATASETS
from mmsquad.utils.image_files import STORED_ORDER, exif_orientation

#: The dataloaders whose datasets are scanned.
SPLITS = ('train', 'val', 'test')


class Finding(NamedTuple):
    """One problem (or note) of a split: its kind (``files``, ``build``,
    ``pipeline`` or the exception of a sample) and its words."""
    kind: str
    text: str


def split_datasets(cfg: Config, splits=SPLITS) -> Dict[str, dict]:
    """``{split: dataset config}`` of the config's dataloaders (a test set
    that is the validation set once)."""
    found: Dict[str, dict] = {}
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if loader and loader.get('dataset') and \
                loader.dataset not in found.values():
            found[split] = loader.dataset
    return found


def lenient(dataset_cfg: dict) -> dict:
    """The dataset config with every mmsquad dataset that can leave bad
    samples out (``bad_files``) doing so, so that one build lists all of
    them (nested datasets included)."""
    cfg = copy.deepcopy(dict(dataset_cfg))
    kind = DATASETS.get(cfg.get('type')) if isinstance(
        cfg.get('type'), str) else cfg.get('type')
    if kind is not None and any(
            'bad_files' in inspect.signature(base.__init__).parameters
            for base in kind.__mro__ if '__init__' in vars(base)):
        cfg['bad_files'] = 'skip'
    if isinstance(cfg.get('dataset'), dict):
        cfg['dataset'] = lenient(cfg['dataset'])
    if isinstance(cfg.get('datasets'), (list, tuple)):
        cfg['datasets'] = [lenient(d) for d in cfg['datasets']]
    return cfg


def nested(dataset) -> Iterator:
    """``dataset`` and every dataset it wraps or concatenates."""
    yield dataset
    for child in [getattr(dataset, 'dataset', None),
                  *getattr(dataset, 'datasets', [])]:
        if child is not None:
            yield from nested(child)


def pipeline_findings(dataset) -> List[Finding]:
    """Image loaders that would turn images by their EXIF orientation, but
    not the annotations."""
    findings = []
    for part in nested(dataset):
        for step in getattr(getattr(part, 'pipeline', None), 'transforms',
                            []):
            if getattr(step, 'color_type', None) in STORED_ORDER:
                findings.append(Finding('pipeline', (
                    f'{type(part).__name__}: {type(step).__name__} decodes '
                    f'with color_type={step.color_type!r}, which turns '
                    'images by their EXIF orientation but not their '
                    'annotations')))
    return findings


class SampleProblems(Dataset):
    """Each sample of a dataset loaded as training loads it: ``(image
    path, exception name or None, its words, EXIF orientation)``."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Tuple[str, Optional[str], str, int]:
        path = str(self.dataset.get_data_info(index).get('img_path', index))
        try:
            self.dataset[index]
        except Exception as error:  # every failure is a finding
            words = (str(error).strip().splitlines() or [''])[0]
            if path not in words:
                words = f'{path}: {words}'
            return path, type(error).__name__, words, 1
        return path, None, '', exif_orientation(path)


def scan(dataset_cfg: dict, workers: int = 0, show_progress: bool = True,
         name: str = '') -> Tuple[int, List[Finding], List[str]]:
    """Build a dataset (leniently) and load every sample.

    Returns:
        The number of samples, the problems, and the images that carry an
        EXIF orientation tag (decoded in stored order, as their
        annotations: a note, not a problem).
    """
    try:
        dataset = DATASETS.build(lenient(dataset_cfg))
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
    except Exception as error:  # the split cannot be read at all
        return 0, [Finding('build', f'{type(error).__name__}: {error}')], []
    findings = [Finding('files', problem) for part in nested(dataset)
                for problem in getattr(part, 'file_problems', [])]
    findings += pipeline_findings(dataset)
    loader = DataLoader(SampleProblems(dataset), batch_size=None,
                        num_workers=workers)
    rotated = []
    results = track(loader, total=len(dataset), description=name,
                    transient=True) if show_progress else loader
    for path, error, words, orientation in results:
        if error is not None:
            findings.append(Finding(error, words))
        elif orientation != 1:
            rotated.append(path)
    return len(dataset), findings, rotated


def report(split: str, count: int, findings: List[Finding],
           rotated: List[str]) -> str:
    """The findings of a split, counted by kind and listed."""
    kinds = Counter(f.kind for f in findings)
    head = (f'{split}: {count} samples, ' + (
        f'{len(findings)} problems (' + ', '.join(
            f'{n} {k}' for k, n in kinds.most_common()) + ')'
        if findings else 'no problems'))
    lines = [head, *(f'  [{f.kind}] {f.text}' for f in findings)]
    if rotated:
        lines.append(f'  note: {len(rotated)} images carry an EXIF '
                     'orientation tag; they are decoded in stored pixel '
                     'order, as their annotations are: ' +
                     ', '.join(rotated[:5]) + (' ...' if len(rotated) > 5
                                               else ''))
    return '\n'.join(lines)
