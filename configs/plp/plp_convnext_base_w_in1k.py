# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip convnext_base_w / laion2b_s13b_b82k (640-d
# features: timm trunk pool and head projection), ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO /
# ImageNet-O. One of the paper's backbones; see docs/plp.md.
# Weights: the tag downloads laion/CLIP-convnext_base_w-laion2B-s13B-b82K (open_clip_pytorch_model.bin or
# open_clip_model.safetensors); GELU (timm tower; the tag's open_clip pretrained config has no quick_gelu flag)
# (docs/weights.md).
# Preprocessing: open_clip's val transform at the model's 256 (bicubic short side 256, centre crop 256).
#   python tools/train.py configs/plp/plp_convnext_base_w_in1k.py  # extracts missing features first, then trains
#   python tools/test.py configs/plp/plp_convnext_base_w_in1k.py work_dirs/plp_convnext_base_w_in1k/iter_15700.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_imagenet.py']
model = dict(backbone=dict(model_name='convnext_base_w', pretrained='laion2b_s13b_b82k', activation='gelu'))

# open_clip's val transform at 256: every loader of the base config gets this pipeline
plp_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
train_dataloader = dict(dataset=dict(pipeline=plp_pipeline))
id_train_dataloader = dict(dataset=dict(pipeline=plp_pipeline))
val_dataloader = dict(dataset=dict(pipeline=plp_pipeline))
test_dataloader = dict(dataset=dict(pipeline=plp_pipeline))
