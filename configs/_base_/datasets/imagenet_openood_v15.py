# OpenOOD v1.5 ImageNet-1k benchmark (`openood_v15_imagenet`): near = SSB-hard, NINCO; far = iNaturalist, Textures,
# OpenImage-O. Read from OpenOOD's image lists (data/openood/benchmark_imglist/imagenet/*.txt, "relative/path label"),
# with image paths relative to data/openood/images_largescale. Get both from the OpenOOD v1.5 download script
# (README "Data"); the sets and paths are written once in mmood/datasets/benchmarks.py.
_base_ = './imagenet_mos_ood.py'  # same preprocessing, evaluator and loop

test_dataloader = dict(dataset=dict(benchmark='openood_v15_imagenet'))
