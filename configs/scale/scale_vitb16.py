# SCALE (Xu et al., ICLR 2024): energy of the zero-shot logits of z · exp(s1 / s2), s2 the sum of the
# 15 % largest entries of the pre_proj z (q = 85; docs/scale.md).
# Zero-shot CLIP ViT-B/16 (prompt "a photo of a {}"), ImageNet-1k vs iNaturalist / SUN / Places / Textures; the
# detector reads pre_proj (ln_post of the CLS token), a signed feature: the post-ReLU premise does not hold.
_base_ = ['../_base_/models/clip_vitb16.py', '../_base_/datasets/imagenet_mos_ood.py', '../_base_/default_runtime.py']

model = dict(head=dict(_delete_=True, type='SCALEHead'))
