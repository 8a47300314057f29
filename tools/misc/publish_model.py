"""Prepare a trained checkpoint for sharing: only the weights and the
metadata, named after its content's SHA-256 (mmseg's and mmdet's
``publish_model.py``).

``python tools/misc/publish_model.py work_dirs/demo/epoch_4.pth squad_demo.pth``
writes ``squad_demo-<first 8 hex digits of its sha256>.pth``.
"""
import argparse
import hashlib
import io
import os.path as osp
from typing import Sequence

import torch

from mmsquad.utils.checkpoint import CheckpointError, load_from_local
from mmsquad.utils.compat import atomic_write

#: What a published checkpoint keeps by default: what test.py, the
#: inferencer and a fine-tuning ``load_from`` read.
SAVE_KEYS = ('meta', 'state_dict')


def publish(in_file: str, out_file: str,
            save_keys: Sequence[str] = SAVE_KEYS) -> str:
    """Write ``in_file``'s ``save_keys`` to ``<out_file stem>-<sha8>.pth``
    (whole or not at all) and return that path.

    Raises:
        CheckpointError: When ``in_file`` has no ``state_dict`` or its
            weights hold NaN or inf (a diverged run), naming the file and
            the first such tensor.
    """
    checkpoint = load_from_local(in_file, map_location='cpu')
    state_dict = checkpoint.get('state_dict')
    if not isinstance(state_dict, dict):
        raise CheckpointError(
            f'{in_file} has no state_dict (keys: {sorted(checkpoint)}): '
            'not a checkpoint of a training run')
    for name, value in state_dict.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(
                f'{in_file}: {name} holds NaN or inf; a diverged model is '
                'not published')
    dropped = sorted(set(checkpoint) - set(save_keys))
    kept = {key: checkpoint[key] for key in save_keys if key in checkpoint}
    buffer = io.BytesIO()
    torch.save(kept, buffer)
    data = buffer.getvalue()
    stem = out_file[:-4] if out_file.endswith('.pth') else out_file
    final = f'{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    atomic_write(data, final)
    print(f'{final}: {len(data) / 2**20:.1f} MiB (from '
          f'{osp.getsize(in_file) / 2**20:.1f} MiB); kept {sorted(kept)}, '
          f'dropped {dropped}')
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='checkpoint of a training run')
    parser.add_argument('out_file', help='name of the published file (the '
                        'hash is added before .pth)')
    parser.add_argument('--save-keys', nargs='+', default=list(SAVE_KEYS),
                        help='checkpoint keys to keep (default: meta '
                        'state_dict)')
    args = parser.parse_args()
    publish(args.in_file, args.out_file, args.save_keys)


if __name__ == '__main__':
    main()
