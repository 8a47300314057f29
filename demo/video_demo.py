"""Predict every task of a multi-task model on the frames of a video and
write a video of the panels (or of one task's pictures).

Example::

    python demo/video_demo.py dive.mp4 configs/squad/underwater.py \
        work_dirs/underwater/epoch_100.pth --out outputs/dive_panels.mp4
"""
import argparse
import math
import os.path as osp
import sys
from typing import Iterator, List, Tuple

import numpy as np

# The tools' shared command-line pieces (tools/toolkit/cli.py).
sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(
    __file__))), 'tools'))
from toolkit.cli import (add_inferencer_arguments,  # noqa: E402
                         inferencer_kwargs)

#: The codec of each output extension (``--fourcc`` chooses another).
FOURCC_OF = {'.mp4': 'mp4v', '.avi': 'MJPG', '.mkv': 'mp4v'}
#: The frame rate written for a video that does not state one.
DEFAULT_FPS = 25.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('video', help='video file')
    parser.add_argument('model', help='config file, or a shipped config name '
                        '(e.g. squad/underwater)')
    parser.add_argument('weights', help='checkpoint file')
    parser.add_argument('--out', help='the video to write (.mp4, .avi or '
                        '.mkv; default: outputs/<video name>.mp4)')
    parser.add_argument('--picture', metavar='TASK', help='write this task\'s '
                        'pictures at the frames\' size (an enhanced video, '
                        'boxes drawn on the frames) instead of the panels')
    parser.add_argument('--fourcc', help='codec, four characters (default: '
                        'mp4v for .mp4 and .mkv, MJPG for .avi)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='frames per forward pass')
    add_inferencer_arguments(parser)
    args = parser.parse_args()
    if args.out is None:
        stem = osp.splitext(osp.basename(args.video))[0]
        args.out = osp.join('outputs', f'{stem}.mp4')
    if osp.abspath(args.out) == osp.abspath(args.video):
        parser.error(f'--out {args.out} is the input video')
    extension = osp.splitext(args.out)[1].lower()
    if args.fourcc is None and extension not in FOURCC_OF:
        parser.error(f'--out {args.out}: give a .mp4, .avi or .mkv file, or '
                     'the codec with --fourcc')
    args.fourcc = args.fourcc or FOURCC_OF[extension]
    if len(args.fourcc) != 4:
        parser.error(f'--fourcc {args.fourcc!r}: a codec has four '
                     'characters (mp4v, MJPG, XVID, ...)')
    if args.batch_size < 1:
        parser.error('--batch-size must be at least 1')
    return args


def even(picture: np.ndarray) -> np.ndarray:
    """``picture`` with one black row or column added where its height or
    width is odd: video writers drop the last one of an odd size."""
    height, width = picture.shape[:2]
    return np.pad(picture, ((0, height % 2), (0, width % 2), (0, 0)))


def chunks(frames, size: int) -> Iterator[List]:
    """Lists of ``size`` consecutive frames (the last may be shorter)."""
    chunk: List = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def main() -> None:
    args = parse_args()
    try:
        done, announced = predict_video(args)
    except (OSError, ValueError) as error:
        sys.exit(f'video_demo.py: error: {error}')
    if done < announced:
        print(f'video_demo.py: warning: {args.video} announces {announced} '
              f'frames; {done} could be read', file=sys.stderr)
    print(f'{done} frame(s) written to {args.out}')


def predict_video(args: argparse.Namespace) -> Tuple[int, int]:
    """Write the video of ``args``; the frames written and the frames the
    input announces."""
    # Imported here: --help answers without loading torch.
    import cv2
    import mmcv
    import mmengine
    from rich.progress import track

    from mmsquad.apis import MultiTaskInferencer
    from mmsquad.utils import CheckpointError

    reader = mmcv.VideoReader(args.video)  # FileNotFoundError names it
    if not reader.opened:
        raise ValueError(f'{args.video}: not a video that OpenCV can decode')
    try:
        inferencer = MultiTaskInferencer(**inferencer_kwargs(args),
                                         show_progress=False)
    except CheckpointError as error:
        raise ValueError(str(error)) from None
    tasks = inferencer.tasks
    if args.picture is not None and args.picture not in tasks:
        raise ValueError(f'--picture {args.picture}: not one of the tasks '
                         f'drawn, {list(tasks)}')
    fps = reader.fps if reader.fps > 0 else DEFAULT_FPS
    writer = None
    done = 0
    batches = chunks(reader, args.batch_size)
    if reader.frame_cnt > 0:
        batches = track(batches, description='Video',
                        total=math.ceil(reader.frame_cnt / args.batch_size))
    try:
        for frames in batches:
            result = inferencer(frames, return_datasamples=True,
                                batch_size=len(frames))
            if result['skipped']:
                raise ValueError(
                    f'{args.video}: frame {done + 1} could not be predicted '
                    '(the warning above says why)')
            for frame, sample in zip(frames, result['predictions']):
                image = mmcv.bgr2rgb(frame)
                if args.picture is None:
                    picture = inferencer.visualizer.make_panel(
                        image, sample, tasks, legends=False)
                else:
                    task = tasks[args.picture]
                    picture = task.draw(
                        image, sample.get(task.prediction_key),
                        inferencer.visualizer.class_names(args.picture, task))
                picture = even(picture)
                if writer is None:
                    mmengine.mkdir_or_exist(osp.dirname(osp.abspath(
                        args.out)))
                    size = (picture.shape[1], picture.shape[0])
                    writer = cv2.VideoWriter(
                        args.out, cv2.VideoWriter_fourcc(*args.fourcc), fps,
                        size)
                    if not writer.isOpened():
                        raise ValueError(
                            f'cannot write {args.out} with the codec '
                            f'{args.fourcc!r} (try a .mp4 file with mp4v)')
                writer.write(picture[..., ::-1])
                done += 1
    finally:
        if writer is not None:
            writer.release()
    if not done:
        raise ValueError(f'{args.video}: no frame could be read')
    return done, reader.frame_cnt


if __name__ == '__main__':
    main()
