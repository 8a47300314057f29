# The shared-encoder baseline of the multi-task benchmark on NYUD-v2
# (semseg, depth): a dilated ResNet-50 and two DeepLab-ASPP heads
# (55,769,449 parameters), trained as the SquadNet paper trains its models
# (Adam 1e-4, batch 6, 300 epochs, poly), from scratch.
_base_ = [
    '../_base_/models/mtl_resnet50_dilated_nyud.py',
    '../_base_/datasets/nyud_mt.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
