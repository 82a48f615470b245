# PLP's self-supervised baseline BEiT-L/16 pre-trained on ImageNet-22k (TMLR 2024; PLP's beit_vit_large_in21k): a
# linear probe on the TRUE ImageNet-1k labels over z-scored frozen features (class token after the final norm,
# 1024-d) of BEiT's self-supervised checkpoint (Bao et al., ICLR 2022); energy / MSP of the probe. ImageNet-1k vs
# iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O; image-only (docs/backbones.md).
# Weights (user-supplied): BEiT's beit_large_patch16_224_pt22k.pth (the unilm BEiT release) saved as
# checkpoints/beit_large_patch16_224_pt22k.pth; the weights are its "model" entry.
# Architecture: PLP loaded this file non-strictly into a plain timm ViT-L/16, which has none of BEiT's relative
# position bias, q/v biases or layer scale (so most of those weights were dropped and the absolute position embedding
# stayed random). mmood builds timm's BEiT instead, as the checkpoint was pre-trained: one relative position bias
# shared by all blocks, no absolute position embedding, layer scale, and the class token after the final norm
# (global_pool='token'); the load report logs what the file has beyond that (mask_token, lm_head).
#   python tools/train.py configs/plp/plp_beit_vitl16_in21k_probe.py
#   python tools/test.py configs/plp/plp_beit_vitl16_in21k_probe.py work_dirs/plp_beit_vitl16_in21k_probe/iter_15700.pth
_base_ = '../_base_/datasets/plp_imagenet_timm_plp.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(backbone=dict(model_name='beit_large_patch16_224',
                           checkpoint='checkpoints/beit_large_patch16_224_pt22k.pth', checkpoint_key='model',
                           model_cfg=dict(use_rel_pos_bias=False, use_shared_rel_pos_bias=True, global_pool='token')))
