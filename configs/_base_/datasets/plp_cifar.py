_base_ = '../schedules/plp_linear_probe.py'  # optimiser, loops, runtime; T is set below

# PLP on CIFAR (docs/plp.md): CIFAR-10 and CIFAR-100, each the other's OOD set. CIFAR in its standard python
# format, read by mmpretrain's CIFAR10 / CIFAR100 datasets (no conversion, no download):
#   data/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
#   data/cifar100/cifar-100-python/{train,test,meta}
# The test splits are sets of the OODEvalDataset through `dataset=` set entries (mmood.datasets.set_spec).
# Images are RGB arrays in memory: no loading step, and the CLIP preprocessor must not swap channels
# (clip_rgb_preprocessor below; the configs set model.data_preprocessor to it). Preprocessing as open_clip's val
# transform: bicubic resize of the 32x32 images to 224, centre crop 224, CLIP mean/std.
plp_cifar_pipeline = [
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
clip_rgb_preprocessor = dict(type='FeatureClsDataPreprocessor', mean=[122.7709383, 116.7460125, 104.09373615],
                             std=[68.5005327, 66.6321579, 70.32316305], to_rgb=False)  # OpenAI CLIP's, x 255

cifar10_train = dict(type='CIFAR10', data_root='data/cifar10', split='train', download=False,
                     pipeline=plp_cifar_pipeline)
cifar100_train = dict(type='CIFAR100', data_root='data/cifar100', split='train', download=False,
                      pipeline=plp_cifar_pipeline)
# the test splits as sets of an OODEvalDataset: benchmarks `cifar10` / `cifar100` (mmood/datasets/benchmarks.py)
cifar10_vs_cifar100 = dict(type='OODEvalDataset', benchmark='cifar10', benchmark_root='data',
                           pipeline=plp_cifar_pipeline)
cifar100_vs_cifar10 = dict(type='OODEvalDataset', benchmark='cifar100', benchmark_root='data',
                           pipeline=plp_cifar_pipeline)  # CIFAR-100 names with underscores kept, as PLP (PLP-4)

# T = ceil(50,000 / 256) * 100 = 196 * 100 = 19,600 iterations, 1,960 of warm-up.
num_train_images = 50000
train_batch_size = 256
max_iters = -(-num_train_images // train_batch_size) * 100

# The loaders default to CIFAR-10 as ID (configs/plp/plp_vitb16_cifar100.py swaps the datasets).
train_dataloader = dict(batch_size=train_batch_size, num_workers='auto',
                        sampler=dict(type='DefaultSampler', shuffle=True), dataset=cifar10_train)
id_train_dataloader = dict(batch_size=256, num_workers='auto', dataset=cifar10_train)  # tools/score.py's fitted banks
val_dataloader = dict(batch_size=256, num_workers='auto', sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=cifar10_vs_cifar100)
test_dataloader = val_dataloader

train_cfg = dict(type='CachedFeatureTrainLoop', max_iters=max_iters, val_interval=max_iters // 10,
                 extraction=dict(batch_size=256))
param_scheduler = dict(type='WarmupCosineLR', warmup_ratio=0.1, start=0.0, eta_min=0.0, by_epoch=False, begin=0,
                       end=max_iters)
# FPR95: mmood's default (ID positive, closest-recall rule); PLP parity: --cfg-options test_evaluator.fpr_rule=interp
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 10, max_keep_ckpts=1,
                    save_last=True),
)
