# PLP's supervised ImageNet-22k baseline (TMLR 2024, baseline_probe_in21k_models.py; its timm 0.9 name
# convnext_base_in22k): a linear probe on the TRUE ImageNet-1k labels over the frozen pre-logits features (global
# average pool + the head's LayerNorm, 1024-d) of timm's ConvNeXt-B ImageNet-22k weights; energy / MSP of the probe.
# ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O; image-only (docs/backbones.md).
# Weights: model.safetensors of https://huggingface.co/timm/convnext_base.fb_in22k, read from the Hugging Face cache
# (fetched on a first run with network access), or a local copy:
#   --cfg-options model.backbone.checkpoint=checkpoints/convnext_base.fb_in22k.safetensors
#   python tools/train.py configs/plp/plp_timm_convnext_base_in22k_probe.py
#   python tools/test.py configs/plp/plp_timm_convnext_base_in22k_probe.py \
#       work_dirs/plp_timm_convnext_base_in22k_probe/iter_125200.pth
_base_ = '../_base_/datasets/plp_imagenet_timm_baseline.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(backbone=dict(model_name='convnext_base.fb_in22k'))
