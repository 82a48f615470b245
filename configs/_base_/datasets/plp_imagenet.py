_base_ = '../schedules/plp_linear_probe.py'  # optimiser, loops, runtime; T is set below

# PLP on ImageNet-1k (docs/plp.md): ID train = ImageNet-1k train (pseudo-labelled), ID test = ImageNet-1k val;
# OOD = iNaturalist, SUN, Places, Textures (the MOS subsets), NINCO (OOD classes) and ImageNet-O.
# Layout (README "Data"):
#   data/imagenet/train/<wnid>/*.JPEG + data/imagenet/meta/train.txt (optional; else the folders are scanned)
#   data/imagenet/val/ILSVRC2012_val_*.JPEG + data/imagenet/meta/val.txt
#   data/ood_data/{iNaturalist,SUN,Places,Textures}/...   data/ood_data/NINCO/NINCO_OOD_classes/<class>/...
#   data/ood_data/imagenet-o/<wnid>/...
# Preprocessing = open_clip's val transform: bicubic short-side resize to 224, centre crop 224, RGB, CLIP mean/std.
plp_pipeline = [
    # the references' Image.open(p).convert('RGB') pixels (docs/decoding.md)
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
imagenet_train = dict(type='ImageNet', data_root='data/imagenet', split='train', pipeline=plp_pipeline)
# ImageNet val vs the MOS four, NINCO and ImageNet-O: benchmark `plp_imagenet` (mmood/datasets/benchmarks.py), with
# PLP's class names (txtfiles/imagenet_plp_first_synonym.txt; only their count, 1000, is checked against the labels)
ood_benchmark = dict(type='OODEvalDataset', benchmark='plp_imagenet', benchmark_root='data', pipeline=plp_pipeline)

# T = ceil(1,281,167 / 8192) * 100 = 157 * 100 = 15,700 iterations, 1,570 of warm-up (WarmupCosineLR).
num_train_images = 1281167
train_batch_size = 8192
max_iters = -(-num_train_images // train_batch_size) * 100

train_dataloader = dict(
    batch_size=train_batch_size,  # probe batch (features); images are extracted 256 at a time
    num_workers='auto',  # image decoding workers of the one-time extraction (from the CPU count, <= 16)
    sampler=dict(type='DefaultSampler', shuffle=True),  # reshuffled every epoch, last partial batch kept (PLP)
    dataset=imagenet_train,
)
# The same images as the bank of tools/score.py's fitted methods (knn, mahalanobis, plp_knn, ...): same cache entry.
id_train_dataloader = dict(batch_size=256, num_workers='auto', dataset=imagenet_train)
val_dataloader = dict(batch_size=256, num_workers='auto', sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=ood_benchmark)
test_dataloader = val_dataloader

train_cfg = dict(type='CachedFeatureTrainLoop', max_iters=max_iters, val_interval=max_iters // 10,
                 extraction=dict(batch_size=256))
param_scheduler = dict(type='WarmupCosineLR', warmup_ratio=0.1, start=0.0, eta_min=0.0, by_epoch=False, begin=0,
                       end=max_iters)
# FPR95: mmood's default (ID positive, closest-recall rule). PLP's own code interpolated: for parity run
# tools/test.py ... --cfg-options test_evaluator.fpr_rule=interp
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 10, max_keep_ckpts=1,
                    save_last=True),
)
