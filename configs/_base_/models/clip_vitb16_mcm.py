# Model part: MCM (NeurIPS 2022) head on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# Prompt "a photo of a {}" (no period), softmax of raw cosines at T = 1 (MCMHead's defaults).
_base_ = './clip_vitb16.py'

model = dict(templates='mcm', head=dict(_delete_=True, type='MCMHead'))
