# GradNorm (Huang et al., NeurIPS 2021; docs/gradnorm.md) on zero-shot CLIP ViT-B/16 (MCM's model: prompt "a photo
# of a {}"), ImageNet-1k vs iNaturalist / SUN / Places / Textures: ||h||_1 · sum_c |C p_c − 1| of the unit image
# feature h and p = softmax(100 · h T̂ᵀ). No fit; runs from images or from cached features.
#   python tools/test.py configs/gradnorm/gradnorm_vitb16.py
_base_ = ['../mcm/mcm_vitb16.py']

model = dict(head=dict(_delete_=True, type='GradNormHead'))
