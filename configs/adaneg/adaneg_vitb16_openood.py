# AdaNeg on the OpenOOD v1.5 ImageNet-1k benchmark (near: SSB-hard, NINCO; far: iNaturalist, Textures,
# OpenImage-O), with AdaNeg's preprocessing and stream rule (configs/adaneg/adaneg_vitb16.py). Reference log
# (OOD-positive
# FPR95 / AUROC): near mean 67.74 / 76.55 with task proxies, 68.19 / 76.40 with sample proxies.
_base_ = './adaneg_vitb16.py'

test_dataloader = dict(dataset=dict(benchmark='openood_v15_imagenet'))
