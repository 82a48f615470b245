# mcm on the OpenOOD v1.5 ImageNet-1k benchmark (near: SSB-hard, NINCO; far: iNaturalist, Textures,
# OpenImage-O). FPR95 stays ID-positive/closest; add --cfg-options test_evaluator.fpr_positive=ood
# test_evaluator.fpr_rule=first_ge for OpenOOD's own convention.
_base_ = [
    '../_base_/models/clip_vitb16_mcm.py', '../_base_/datasets/imagenet_openood_v15.py',
    '../_base_/default_runtime.py'
]
