# PLP's supervised ImageNet-21k baseline (TMLR 2024, baseline_probe_in21k_models.py; its timm 0.9 name
# vit_large_patch16_224_in21k): a linear probe on the TRUE ImageNet-1k labels over the frozen pre-logits features
# (class token after the final norm, 1024-d) of timm's ViT-L/16 AugReg ImageNet-21k weights; energy / MSP of the probe.
# ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O; image-only (docs/backbones.md).
# Weights: model.safetensors of https://huggingface.co/timm/vit_large_patch16_224.augreg_in21k, read from the Hugging
# Face cache (fetched on a first run with network access), or a local copy:
#   --cfg-options model.backbone.checkpoint=checkpoints/vit_large_patch16_224.augreg_in21k.safetensors
#   python tools/train.py configs/plp/plp_timm_vitl16_in21k_probe.py
#   python tools/test.py configs/plp/plp_timm_vitl16_in21k_probe.py \
#       work_dirs/plp_timm_vitl16_in21k_probe/iter_125200.pth
_base_ = '../_base_/datasets/plp_imagenet_timm_baseline.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(backbone=dict(model_name='vit_large_patch16_224.augreg_in21k'))
