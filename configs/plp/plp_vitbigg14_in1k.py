# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-bigG-14 / laion2b_s39b_b160k (the
# paper's "ViT-G"; 1664-d pre-projection features), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO /
# ImageNet-O. Extraction is GPU work (~1 EFLOP over ImageNet + OOD sets); see docs/plp.md.
#   python tools/train.py configs/plp/plp_vitbigg14_in1k.py   # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_vitbigg14_in1k.py work_dirs/plp_vitbigg14_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='ViT-bigG-14', pretrained='laion2b_s39b_b160k', activation='gelu'))
