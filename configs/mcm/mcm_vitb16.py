# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures.
# Prompt "a photo of a {}" (no period), softmax of raw cosines at T = 1.
_base_ = [
    '../_base_/models/clip_vitb16_mcm.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py'
]
