# GL-MCM, zero-shot CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures.
# S = S_MCM + lambda * S_L-MCM with lambda = 0.5 (the authors' recommendation for OOD; GL-2).
_base_ = [
    '../_base_/models/clip_vitb16_glmcm.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py'
]
