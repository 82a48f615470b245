# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip RN50 / openai (1024-d attention-pool output,
# already in the joint space), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O. One of the
# paper's backbones; see docs/plp.md.
# Weights: the tag downloads timm/resnet50_clip.openai (open_clip_pytorch_model.bin), or OpenAI's RN50.pt (clip.load's
# download); QuickGELU, as OpenAI trained it (docs/weights.md).
#   python tools/train.py configs/plp/plp_rn50_in1k.py  # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_rn50_in1k.py work_dirs/plp_rn50_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='RN50', pretrained='openai', activation='quick_gelu'))
