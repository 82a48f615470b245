# PLP's self-supervised baseline iBOT ViT-L/16 (TMLR 2024; PLP's ibot_vit_large): a linear probe on the TRUE
# ImageNet-1k labels over z-scored frozen pre-logits features (class token after the final norm, 1024-d) of iBOT's
# teacher (Zhou et al., ICLR 2022) in timm's ViT-L/16; energy / MSP of the probe. ImageNet-1k vs iNaturalist / SUN /
# Places / Textures / NINCO / ImageNet-O; image-only (docs/backbones.md).
# Weights (user-supplied; not on the Hugging Face hub): iBOT's ViT-L/16 ImageNet-1k release
# vitl_16_rand_mask/checkpoint_teacher.pth saved as checkpoints/ibot_vitl16_checkpoint_teacher.pth; the weights are
# its "state_dict" entry. PLP's ibot_vit_large_in21k is the ImageNet-22k release vitl_16_pt22k/checkpoint_student.pth
# (same key): --cfg-options model.backbone.checkpoint=checkpoints/ibot_vitl16_pt22k_checkpoint_student.pth
#   python tools/train.py configs/plp/plp_ibot_vitl16_probe.py
#   python tools/test.py configs/plp/plp_ibot_vitl16_probe.py work_dirs/plp_ibot_vitl16_probe/iter_15700.pth
_base_ = '../_base_/datasets/plp_imagenet_timm_plp.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(backbone=dict(model_name='vit_large_patch16_224',
                           checkpoint='checkpoints/ibot_vitl16_checkpoint_teacher.pth', checkpoint_key='state_dict'))
