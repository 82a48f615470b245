# AdaNeg (NeurIPS 2024), zero-shot CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures.
# AdaNeg's own preprocessing (ADA-8): bicubic Resize(256), CenterCrop(224) -- its own feature cache, not NegLabel's.
# The result depends on the test stream; mmood defines it (docs/adaneg.md): per (ID, OOD set) pair, the pair's
# images in a seeded random order, batches of 256, a fresh memory; one score per seed (0, 1, 2), mean ± std reported.
# The reference's FPR95 is OOD-positive (ADA-7): both conventions are reported.
# Committed log of the reference (MOS-4 mean, OOD-positive FPR95 / AUROC): task proxies 17.95 / 96.70, sample
# proxies 18.73 / 96.47.
_base_ = [
    '../_base_/models/clip_vitb16_adaneg.py', '../_base_/datasets/imagenet_mos_ood.py', '../_base_/default_runtime.py'
]

test_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_evaluator = dict(extra_fpr=[('ood', 'first_ge')])
