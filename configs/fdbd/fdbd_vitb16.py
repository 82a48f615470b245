# fDBD (ICML 2024) on zero-shot CLIP ViT-B/16 (docs/fdbd.md): ImageNet-1k val vs iNaturalist / SUN / Places / Textures.
# The classifier is MCM's ("a photo of a {}", logits 100 · cos): z = pre_proj, W z / ‖z P‖ its logits (LinearView).
# Fitted on ImageNet-1k train (test preprocessing), extracted once into the feature cache:
#   python tools/extract_features.py configs/fdbd/fdbd_vitb16.py --kinds global pre_proj --splits id_train
#   python tools/test.py configs/fdbd/fdbd_vitb16.py          (or tools/score.py ... --methods config on cached
# features)
_base_ = [
    '../_base_/models/clip_vitb16_mcm.py', '../_base_/datasets/imagenet_mos_ood_fit.py',
    '../_base_/default_runtime.py'
]
model = dict(head=dict(_delete_=True, type='FDBDHead'))
