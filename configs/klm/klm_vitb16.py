# KL-Matching (Hendrycks et al., ICML 2022; docs/klm.md) on zero-shot CLIP ViT-B/16 (MCM's model: prompt "a photo of
# a {}", logits 100 · cos), ImageNet-1k vs iNaturalist / SUN / Places / Textures. The class templates d_k are fitted
# on the zero-shot logits of the ImageNet-1k train images (OpenOOD v1.5 fits them on ID-val: docs/klm.md), extracted
# once into the feature cache with the test pipeline.
#   python tools/test.py configs/klm/klm_vitb16.py --save-features
#   python tools/score.py configs/klm/klm_vitb16.py --methods config gen    # re-scored from the cached features
_base_ = ['../_base_/models/clip_vitb16_mcm.py', '../_base_/datasets/imagenet_mos_ood_fit.py',
          '../_base_/default_runtime.py']

model = dict(head=dict(_delete_=True, type='KLMatchingHead'))
