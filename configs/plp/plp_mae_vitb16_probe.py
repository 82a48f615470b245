# PLP's self-supervised baseline MAE ViT-B/16 (TMLR 2024; PLP's mae_vit_base): a linear probe on the TRUE ImageNet-1k
# labels over z-scored frozen pre-logits features (class token after the final norm, 768-d) of MAE's pre-trained
# encoder (He et al., CVPR 2022); energy / MSP of the probe. ImageNet-1k vs iNaturalist / SUN / Places / Textures /
# NINCO / ImageNet-O; image-only (docs/backbones.md).
# Weights: model.safetensors of https://huggingface.co/timm/vit_base_patch16_224.mae (timm's copy of MAE's
# mae_pretrain_vit_base.pth), read from the Hugging Face cache (fetched on a first run with network access); or
# MAE's own file, whose weights are under "model":
#   --cfg-options model.backbone.checkpoint=checkpoints/mae_pretrain_vit_base.pth model.backbone.checkpoint_key=model
#   python tools/train.py configs/plp/plp_mae_vitb16_probe.py
#   python tools/test.py configs/plp/plp_mae_vitb16_probe.py work_dirs/plp_mae_vitb16_probe/iter_15700.pth
_base_ = '../_base_/datasets/plp_imagenet_timm_plp.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(backbone=dict(model_name='vit_base_patch16_224.mae'))
