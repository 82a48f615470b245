# Data part of NPOS from scratch on CIFAR-10 (the CIFAR-100 configs swap the datasets): all 50,000 training images,
# two independently augmented views per image (SimCLR-style, the reference's TwoCropTransform), and the test
# benchmark `cifar10_small_ood` (CIFAR-10 test vs SVHN, LSUN-C, LSUN-R, iSUN, Textures, Places365; docs/data.md).
# CIFAR in its python format (data/cifar10/cifar-10-batches-py, data/cifar100/cifar-100-python), read in memory by
# MMPretrain's CIFAR10 / CIFAR100; LoadImageOrArray turns their RGB arrays into BGR, as decoded files.
# each view as the reference's torchvision transform, on a PIL RGB image
view_pipeline = [
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/RandomResizedCrop', size=32, scale=(0.2, 1.0)),  # ratio (3/4, 4/3), bilinear
    dict(type='torchvision/RandomHorizontalFlip'),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='torchvision/ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
    dict(type='torchvision/RandomGrayscale', p=0.2),
    dict(type='PILToNumpy', to_bgr=True),
]
npos_train_pipeline = [
    dict(type='LoadImageOrArray'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
# test transform: Resize 32 (shorter side, bilinear) + CenterCrop 32 for every set (a no-op on 32x32 images); the
# reference leaves SVHN and LSUN-C unresized and only resizes iSUN (docs/reference_deviations.md)
npos_test_pipeline = [
    dict(type='LoadImageOrArray'),
    dict(type='ResizeEdge', scale=32, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
cifar10_train = dict(type='CIFAR10', data_root='data/cifar10', split='train', download=False,
                     pipeline=npos_train_pipeline)
cifar10_train_bank = dict(type='CIFAR10', data_root='data/cifar10', split='train', download=False,
                          pipeline=npos_test_pipeline)
num_train_images = 50000
train_batch_size = 256  # images (512 views); one process as the CIFAR-10 script (DDP: per-GPU = 256 / GPUs)
iters_per_epoch = num_train_images // train_batch_size  # 195 (drop_last)
train_dataloader = dict(batch_size=train_batch_size, num_workers=4, drop_last=True, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True), collate_fn=dict(type='default_collate'),
                        dataset=cifar10_train)
# the ID-train set with the test transform: the KNN bank (tools/test.py, tools/score.py) and the CIDER prototypes'
# initialisation (IDTrainInitHook; the reference initialises them on its test loader)
id_train_dataloader = dict(batch_size=256, num_workers=4, sampler=dict(type='DefaultSampler', shuffle=False),
                           dataset=cifar10_train_bank)
test_dataloader = dict(batch_size=256, num_workers=4, sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(type='OODEvalDataset', benchmark='cifar10_small_ood', benchmark_root='data',
                                    pipeline=npos_test_pipeline))
# FPR95 with the ID images positive and the closest-recall rule, as the reference's get_measures
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
test_cfg = dict(type='OODTestLoop')
val_cfg = None
val_dataloader = None
val_evaluator = None
