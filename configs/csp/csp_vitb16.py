# CSP (NeurIPS 2024), zero-shot CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures.
# Preprocessing as NegLabel's (bilinear Resize(224), CenterCrop(224), CSP-8), so it shares NegLabel's feature cache:
# `tools/score.py configs/neglabel/neglabel_vitb16.py --methods config csp` scores both from one encoder pass.
# Published (paper Table 1, ViT-B/16, MOS-4 average): FPR95 17.51 / AUROC 95.76 (docs/csp.md; iNat and SUN FPR
# verified, other cells unverified).
_base_ = [
    '../_base_/models/clip_vitb16_csp.py', '../_base_/datasets/imagenet_mos_ood.py', '../_base_/default_runtime.py'
]
