# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/32 (OpenAI weights, 512-d embeddings), ImageNet-1k vs
# iNaturalist / SUN / Places / Textures. All but the backbone as configs/mcm/mcm_vitb16.py.
# Weights: open_clip ViT-B-32 / tag 'openai' = timm/vit_base_patch32_clip_224.openai (open_clip_pytorch_model.bin),
# or OpenAI's ViT-B-32.pt (clip.load's download) as model.backbone.pretrained=<file>; QuickGELU (docs/weights.md).
# Preprocessing as the ViT-B/16 config (the reference code's for every backbone): bilinear short-side resize
# to 224, centre crop 224, CLIP mean/std (open_clip's transform of the tag would be bicubic).
#   python tools/test.py configs/mcm/mcm_vitb32.py
_base_ = [
    '../_base_/models/clip_vitb16_mcm.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone=dict(model_name='ViT-B-32', pretrained='openai', activation='quick_gelu'))
