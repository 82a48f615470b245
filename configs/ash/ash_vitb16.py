# ASH-B (Djurisic et al., ICLR 2023): energy of the zero-shot logits of each sample's pre_proj z with
# 90 % of its entries pruned and the kept 10 % set to s1 / k (OpenOOD v1.5's ASH; docs/ash.md).
# Zero-shot CLIP ViT-B/16 (prompt "a photo of a {}"), ImageNet-1k vs iNaturalist / SUN / Places / Textures; the
# detector reads pre_proj (ln_post of the CLS token), a signed feature: the post-ReLU premise does not hold.
_base_ = ['../_base_/models/clip_vitb16.py', '../_base_/datasets/imagenet_mos_ood.py', '../_base_/default_runtime.py']

model = dict(head=dict(_delete_=True, type='ASHHead'))
