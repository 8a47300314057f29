# tiny_demo.py with a Cross-Stitch encoder (an encoder-level comparison
# architecture) around a dilated ResNet-18 an eighth as wide.
_base_ = ['./tiny_demo.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='CrossStitchEncoder',
        backbone=dict(type='mmseg.ResNet', depth=18, base_channels=8,
                      strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))),
    neck=None)
