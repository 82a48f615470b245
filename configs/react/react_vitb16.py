# ReAct (Sun, Guo, Li, NeurIPS 2021): energy of the zero-shot logits of min(z, c), c the 90th percentile
# of every ID-train pre_proj activation (fitted once; docs/react.md: OpenOOD v1.5 fits c on ID-val).
# Zero-shot CLIP ViT-B/16 (prompt "a photo of a {}"), ImageNet-1k vs iNaturalist / SUN / Places / Textures; the
# detector reads pre_proj (ln_post of the CLS token), a signed feature: the post-ReLU premise does not hold.
# Fitted on ImageNet-1k train (imagenet_mos_ood_fit.py: the test pipeline, features extracted once into the cache).
_base_ = ['../_base_/models/clip_vitb16.py', '../_base_/datasets/imagenet_mos_ood_fit.py',
          '../_base_/default_runtime.py']

model = dict(head=dict(_delete_=True, type='ReActHead'))
