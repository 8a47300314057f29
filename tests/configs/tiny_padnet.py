# tiny_demo.py as PAD-Net (a decoder-level comparison architecture, with
# intermediate predictions) on a small HRNet.
_base_ = ['./tiny_demo.py']
head = dict(_delete_=True, type='ResidualTaskHead', channels=16)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.HRNet',
        norm_cfg=dict(type='BN'),
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(1, ), num_channels=(8, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(1, 1), num_channels=(8, 16)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC',
                        num_blocks=(1, 1, 1), num_channels=(8, 16, 32)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                        num_blocks=(1, 1, 1, 1),
                        num_channels=(8, 16, 32, 64)))),
    neck=dict(_delete_=True, type='PADNetNeck', channels=32),
    heads=dict(semseg=head, human_parts=head, sal=head, normals=head))
