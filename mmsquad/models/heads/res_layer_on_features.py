"""mmdet's ``ResLayer`` shared head taking the channels of the features
it gets."""
import inspect

from mmdet.models.backbones import ResNet
from mmdet.models.layers import ResLayer as ResStage
from mmdet.models.roi_heads.shared_heads import ResLayer


class ResLayerOnFeatures(ResLayer):
    """A C4 detector's shared RoI head (a ResNet stage run on every RoI)
    reading ``in_channels``-channel RoI features.

    mmdet's ``ResLayer`` derives its input channels from ``stage``: those
    of the ResNet stage before it in the detector's own backbone (1024
    for ``stage=3``), which a hosted detector no longer has. This one
    builds the same stage on ``in_channels``; its output channels
    (``64 * 2**stage * 4``) and every other setting are mmdet's. (Not
    registered: :class:`~mmsquad.models.heads.DetectorAdapter` names the
    class in the detector config it builds.)

    Args:
        in_channels: Channels of the RoI features (the RoI extractor's
            ``out_channels``).
        depth: ResNet depth of the stage's blocks, as mmdet's.
        stage: Which stage (0-based), as mmdet's.
        **kwargs: mmdet's ``ResLayer`` arguments (``stride``,
            ``dilation``, ``style``, ``norm_cfg``, ``norm_eval``,
            ``with_cp``, ``dcn``, ``init_cfg``).

    Example:
        >>> import torch
        >>> head = ResLayerOnFeatures(in_channels=256, depth=50, stage=3)
        >>> head(torch.rand(2, 256, 14, 14)).shape
        torch.Size([2, 2048, 7, 7])
    """

    def __init__(self, in_channels: int, depth: int, stage: int = 3,
                 **kwargs) -> None:
        super().__init__(depth, stage, **kwargs)
        # mmdet's constructor built the stage for its own input channels
        # (it takes no argument for them): the same stage again, with
        # mmdet's settings and defaults, on the features'.
        given = inspect.signature(ResLayer.__init__).bind(
            self, depth, stage, **kwargs)
        given.apply_defaults()
        settings = given.arguments
        block, stage_blocks = ResNet.arch_settings[depth]
        self.add_module(f'layer{stage + 1}', ResStage(
            block, in_channels, 64 * 2**stage, stage_blocks[stage],
            stride=settings['stride'], dilation=settings['dilation'],
            style=settings['style'], with_cp=settings['with_cp'],
            norm_cfg=settings['norm_cfg'], dcn=settings['dcn']))
