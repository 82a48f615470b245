# A tiny open_clip ViT (2 layers, width 64, 32x32 input; 3.4M parameters, mostly the token embedding),
# registered under the name "mmood-tiny-vit". Used by the tests and the offline demo.
tiny_model_cfg = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2),
)
model = dict(
    type='CLIPOODClassifier',
    backbone=dict(type='OpenCLIPBackbone', model_name='mmood-tiny-vit', pretrained=None, model_cfg=tiny_model_cfg),
    class_names=['zero', 'one', 'two'],
    templates='mcm',
    head=dict(type='MCMHead'),  # MCM at tau = 1 (the head's defaults)
    extra_heads=[dict(type='LogitHead', logit_scale=None)],  # msp, maxlogit, energy at the classifier's scale
    logit_scale=100.0,
    cache_dir=None,
)
