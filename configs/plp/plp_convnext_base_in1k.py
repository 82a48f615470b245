# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip convnext_base / laion400m_s13b_b51k (512-d
# features: timm trunk pool and head projection), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO /
# ImageNet-O. One of the paper's backbones; see docs/plp.md.
# Weights: the tag downloads laion/CLIP-convnext_base-laion400M-s13B-b51K (open_clip_pytorch_model.bin or
# open_clip_model.safetensors); GELU (timm tower; the tag's open_clip pretrained config has no quick_gelu flag)
# (docs/weights.md).
#   python tools/train.py configs/plp/plp_convnext_base_in1k.py  # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_convnext_base_in1k.py work_dirs/plp_convnext_base_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='convnext_base', pretrained='laion400m_s13b_b51k', activation='gelu'))
