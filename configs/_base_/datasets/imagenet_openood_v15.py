# OpenOOD v1.5 ImageNet-1k benchmark (`openood_v15_imagenet`): near = SSB-hard, NINCO; far = iNaturalist, Textures,
# OpenImage-O. Read from OpenOOD's image lists (data/openood/benchmark_imglist/imagenet/*.txt, "relative/path label"),
# with image paths relative to data/openood/images_largescale. Get both from the OpenOOD v1.5 download script
# (README, "Data"); the sets and paths are written once in mmood/datasets/benchmarks.py.
# Preprocessing: that of the only published CLIP numbers on this benchmark, OpenOOD-VLM's committed logs (MCM,
# NegLabel, AdaNeg): bicubic Resize(256) on the short side, CenterCrop(224), CLIP mean/std. (The MOS configs use
# NegLabel's bilinear 224, so the two benchmarks have separate feature caches.)
_base_ = './imagenet_mos_ood.py'  # same evaluator and loop

test_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
test_dataloader = dict(dataset=dict(benchmark='openood_v15_imagenet', pipeline=test_pipeline))
