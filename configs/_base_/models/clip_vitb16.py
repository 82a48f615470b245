# Zero-shot CLIP ViT-B/16 (OpenAI weights) with an OOD head; method configs replace `head` and `templates`.
# Weights: open_clip tag 'openai' (Hugging Face cache) or a local file via model.backbone.pretrained.
model = dict(
    type='CLIPOODClassifier',
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai', activation='quick_gelu',
                  precision='fp32'),
    class_names='txtfiles/imagenet_classes.txt',
    templates='mcm',
    head=dict(type='MCMHead'),  # MCM at tau = 1 (the head's defaults)
    # the classic baselines of the same zero-shot logits (LogitHead's default scores: msp, maxlogit, energy), reported
    # with every run at no extra encoder cost
    extra_heads=[dict(type='LogitHead', logit_scale=None)],
    logit_scale=100.0,
    cache_dir=None,  # filled by tools/ (--cache-dir, $MMOOD_CACHE or ~/.cache/mmood)
)
