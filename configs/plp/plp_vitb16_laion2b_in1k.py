# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-B-16 / laion2b_s34b_b88k (768-d
# pre-projection features), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O. One of the
# paper's backbones; see docs/plp.md.
# Weights: the tag downloads laion/CLIP-ViT-B-16-laion2B-s34B-b88K (open_clip_pytorch_model.bin or
# open_clip_model.safetensors); GELU: the tag's open_clip pretrained config has no quick_gelu flag (docs/weights.md).
#   python tools/train.py configs/plp/plp_vitb16_laion2b_in1k.py  # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_vitb16_laion2b_in1k.py work_dirs/plp_vitb16_laion2b_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='ViT-B-16', pretrained='laion2b_s34b_b88k', activation='gelu'))
