# The shared-encoder baseline of the multi-task benchmark on PASCAL-Context:
# a dilated ResNet-18 and four DeepLab-ASPP heads (30,073,440 parameters),
# trained as the SquadNet paper trains its models (Adam 1e-4, batch 6, 300
# epochs, poly), from scratch.
_base_ = [
    '../_base_/models/mtl_resnet18_dilated.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
