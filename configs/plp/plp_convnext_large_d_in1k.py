# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip convnext_large_d / laion2b_s26b_b102k_augreg
# (768-d features: timm trunk pool and MLP head), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO /
# ImageNet-O. One of the paper's backbones; see docs/plp.md.
# Weights: the tag downloads laion/CLIP-convnext_large_d.laion2B-s26B-b102K-augreg (open_clip_pytorch_model.bin or
# open_clip_model.safetensors); GELU (timm tower; the tag's open_clip pretrained config has no quick_gelu flag)
# (docs/weights.md).
# Preprocessing: open_clip's val transform at the model's 256 (bicubic short side 256, centre crop 256).
#   python tools/train.py configs/plp/plp_convnext_large_d_in1k.py  # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_convnext_large_d_in1k.py work_dirs/plp_convnext_large_d_in1k/iter_15700.pth
_base_ = ['./plp_convnext_base_w_in1k.py']  # the same 256-px pipelines and normalisation
model = dict(backbone=dict(model_name='convnext_large_d', pretrained='laion2b_s26b_b102k_augreg', activation='gelu'))
