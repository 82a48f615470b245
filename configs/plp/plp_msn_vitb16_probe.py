# PLP's self-supervised baseline MSN ViT-B/16 (TMLR 2024; PLP's msn_vit_base): a linear probe on the TRUE
# ImageNet-1k labels over z-scored frozen pre-logits features (class token after the final norm, 768-d) of MSN's
# target encoder (Assran et al., ECCV 2022) in timm's ViT-B/16; energy / MSP of the probe. ImageNet-1k vs
# iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O; image-only (docs/backbones.md).
# Weights (user-supplied; not on the Hugging Face hub): MSN's release vitb16_600ep.pth.tar
# (https://dl.fbaipublicfiles.com/msn/vitb16_600ep.pth.tar) saved as checkpoints/msn_vitb16_600ep.pth.tar; the weights
# are its "target_encoder" entry (the "module." prefix is stripped; MSN's projection head "fc.*" is reported unused).
#   python tools/train.py configs/plp/plp_msn_vitb16_probe.py
#   python tools/test.py configs/plp/plp_msn_vitb16_probe.py work_dirs/plp_msn_vitb16_probe/iter_15700.pth
_base_ = '../_base_/datasets/plp_imagenet_timm_plp.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(backbone=dict(model_name='vit_base_patch16_224', checkpoint='checkpoints/msn_vitb16_600ep.pth.tar',
                           checkpoint_key='target_encoder'))
