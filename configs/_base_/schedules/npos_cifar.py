_base_ = '../default_runtime.py'

# Schedule of NPOS from scratch (train_npos_cifar10.sh / train_npos_cifar100.sh): 500 epochs, SGD with Nesterov
# momentum 0.9, weight decay 1e-4 on every parameter, lr 0.5 with a per-epoch cosine to 0.5 * 0.1**3 = 5e-4, no
# warm-up (the scripts' batch 256 leaves it off), seed 20.
epochs = 500
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=10**9)
# the outlier MLP trains at the full lr: the reference sets its group to lr x 0.1 but its per-epoch schedule
# overwrites every group's lr (reproduced; lr_mult=0.1 gives the intended rate)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'outlier_mlp': dict(lr_mult=1.0)}))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, eta_min=5e-4, by_epoch=True, begin=0, end=epochs)]
default_hooks = dict(logger=dict(type='LoggerHook', interval=50),
                     checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=20, max_keep_ckpts=3,
                                     save_last=True))
randomness = dict(seed=20, deterministic=False)
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='IDTrainInitHook')]
