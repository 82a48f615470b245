# NPOS from scratch on the offline digits demo (a CPU-sized check of configs/npos/npos_resnet18_cifar10.py): the same
# model, objective, two-view augmentation, schedule shape and KNN score, on scikit-learn's digits 0-4 (32x32, in
# memory; ~630 training images), with a narrow ResNet-18 (base width 4: 32-d features), small queues and a short
# schedule. Detects digits 5-9 (near) and noise (far) with `knn` and `outlier`.
#   python tools/train.py configs/npos/npos_resnet18_tiny_digits.py
#   python tools/test.py configs/npos/npos_resnet18_tiny_digits.py work_dirs/npos_resnet18_tiny_digits/epoch_8.pth
_base_ = ['./npos_resnet18_cifar10.py']

epochs = 8
batch = 64
iters_per_epoch = 629 // batch  # 9 (drop_last)
model = dict(
    backbone=dict(base_channels=4),
    class_names=['zero', 'one', 'two', 'three', 'four'],
    head=dict(k=5),  # the bank holds ~630 features (the recipe's 300 of 50,000)
    # sigma 0.3: the noise scaled to the narrow net's 32-d raw features (the recipe's 0.1 is for 512-d)
    synthesis=dict(queue_size=32, k=8, select=8, picks=2, num_draws=50, sigma=0.3, keep=4, seed=0),
    start_iter=(epochs // 2) * iters_per_epoch,
    # the digits' grey levels (0-255, mostly black)
    data_preprocessor=dict(mean=[40.0] * 3, std=[80.0] * 3),
)
digits_train = dict(_delete_=True, type='DigitsCaptionDataset', digits=(0, 1, 2, 3, 4), split='train', split_seed=0,
                    test_size=0.3, image_size=32, pipeline={{_base_.npos_train_pipeline}})
digits_bank = dict(_delete_=True, type='DigitsCaptionDataset', digits=(0, 1, 2, 3, 4), split='train', split_seed=0,
                   test_size=0.3, image_size=32, pipeline={{_base_.npos_test_pipeline}})
train_dataloader = dict(batch_size=batch, num_workers=0, persistent_workers=False, dataset=digits_train)
id_train_dataloader = dict(batch_size=128, num_workers=0, dataset=digits_bank)
test_dataloader = dict(
    batch_size=128, num_workers=0,
    dataset=dict(_delete_=True, type='DigitsOODDataset', id_digits=(0, 1, 2, 3, 4), ood_digits=(5, 6, 7, 8, 9),
                 num_noise=200, noise_seed=0, split='test', split_seed=0, test_size=0.3, image_size=32,
                 id_name='digits 0-4', ood_name='digits 5-9', noise_name='noise',
                 pipeline={{_base_.npos_test_pipeline}}))
train_cfg = dict(max_epochs=epochs)
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, eta_min=1e-4, by_epoch=True, begin=0, end=epochs)]
default_hooks = dict(logger=dict(interval=9), checkpoint=dict(interval=epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
# one intra-op thread: the trained weights, and so the recorded numbers, do not depend on the core count
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='IDTrainInitHook'), dict(type='IntraOpThreadsHook', threads=1)]
