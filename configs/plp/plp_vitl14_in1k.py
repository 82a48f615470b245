# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-L-14 / openai (1024-d pre-projection
# features; the paper also uses laion2b_s32b_b82k), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO /
# ImageNet-O. See docs/plp.md.
#   python tools/train.py configs/plp/plp_vitl14_in1k.py      # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_vitl14_in1k.py work_dirs/plp_vitl14_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='ViT-L-14', pretrained='openai', activation='quick_gelu'))
