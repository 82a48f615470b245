# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-L-14 / laion2b_s32b_b82k (1024-d
# pre-projection features), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O. One of the
# paper's backbones; see docs/plp.md.
# Weights: the tag downloads laion/CLIP-ViT-L-14-laion2B-s32B-b82K (open_clip_pytorch_model.bin or
# open_clip_model.safetensors); GELU: the tag's open_clip pretrained config has no quick_gelu flag (docs/weights.md).
# Preprocessing: the tag's mean/std are 0.5 (not CLIP's), set in the data preprocessor below.
#   python tools/train.py configs/plp/plp_vitl14_laion2b_in1k.py  # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_vitl14_laion2b_in1k.py work_dirs/plp_vitl14_laion2b_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(
    backbone=dict(model_name='ViT-L-14', pretrained='laion2b_s32b_b82k', activation='gelu'),
    data_preprocessor=dict(type='FeatureClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))
