# Model part: GL-MCM head on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# S = S_MCM + lambda * S_L-MCM with lambda = 0.5 (the authors' recommendation for OOD; GL-2).
_base_ = './clip_vitb16.py'

model = dict(templates='mcm', head=dict(_delete_=True, type='MCMHead', local_weight=0.5))
