"""What the tools' argument parsers share, with nothing heavy imported:
``--help`` answers before torch, mmengine or mmsquad load."""
import argparse

#: The precisions of ``--precision`` (as :data:`mmsquad.utils.precision.
#: PRECISIONS` names them; a test keeps the two equal).
PRECISION_CHOICES = ('fp32', 'bf16', 'fp16')


class CfgOptionsAction(argparse.Action):
    """``--cfg-options key=value ...`` parsed as mmengine's ``DictAction``
    does, importing mmengine only when the option is given."""

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction
        DictAction(self.option_strings, self.dest)(parser, namespace, values,
                                                   option_string)


def add_inferencer_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the demos that build a ``MultiTaskInferencer``
    (``demo/image_demo.py``, ``demo/video_demo.py``): ``--device``,
    ``--tasks``, ``--fold``, ``--partial``, ``--trust-checkpoint`` and
    ``--precision``, named as its arguments are."""
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--tasks', nargs='+', help='tasks to predict and '
                        'draw (default: all of the model\'s)')
    parser.add_argument('--fold', action='store_true', help='fold BatchNorm '
                        'and channel shuffles into the convolutions first')
    parser.add_argument('--partial', action='store_true', help='load only '
                        'the checkpoint keys that fit the model')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow the checkpoint to run code while it '
                        'loads (only for files from a trusted source)')
    parser.add_argument('--precision', choices=PRECISION_CHOICES,
                        default='fp32', help='numeric precision of the '
                        'network (bf16: CPUs with avx512_bf16/AMX; fp16: '
                        'CUDA)')


def inferencer_kwargs(args: argparse.Namespace) -> dict:
    """``MultiTaskInferencer``'s arguments from the options of
    :func:`add_inferencer_arguments` (and the positional ``model`` and
    ``weights``)."""
    return dict(model=args.model, weights=args.weights, device=args.device,
                tasks=args.tasks, fold=args.fold,
                allow_partial=args.partial,
                trust_checkpoint=args.trust_checkpoint,
                precision=args.precision)
