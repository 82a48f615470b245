# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-B-16 / openai (768-d pre-projection
# features; the paper also uses laion2b_s34b_b88k), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO /
# ImageNet-O. See docs/plp.md.
#   python tools/train.py configs/plp/plp_vitb16_in1k.py      # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_vitb16_in1k.py work_dirs/plp_vitb16_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='ViT-B-16', pretrained='openai', activation='quick_gelu'))
