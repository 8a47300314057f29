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
