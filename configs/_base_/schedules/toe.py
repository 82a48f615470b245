_base_ = '../default_runtime.py'

# TOE's recipe (wiarae/TOE main.py / trainer.py): Adam, lr 1e-3, default betas, no weight decay, no scheduler (TOE-3:
# the reference parses --learning_rate, --decay and --momentum but never uses them), 100 epochs, seed 42, fp32, no model
# selection. One epoch = ceil(#outliers / 32) iterations (the reference zips the ID loader with the outlier loader,
# TOE-4): CachedFeatureTrainLoop(epochs=100) asks the model for that length once the outlier list exists (description
# level as the reference: 29,000 strings -> 907 iterations per epoch, 90,700 in all). The ID batches (32) come from the
# cached features of the ID-train images in reshuffled passes (the reference reshuffles and truncates each epoch).
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
param_scheduler = []
train_cfg = dict(type='CachedFeatureTrainLoop', max_iters=None, epochs=100, val_interval=10**9,
                 extraction=dict(batch_size=256))
val_cfg = None
val_dataloader = None
val_evaluator = None
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # the last iteration is always saved (iter_<max_iters>.pth), plus one every 10,000
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=1, save_last=True),
)
randomness = dict(seed=42, deterministic=False)  # TOE's seed
