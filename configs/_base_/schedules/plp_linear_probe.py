_base_ = '../default_runtime.py'

# PLP's probe optimisation (the reference's linear_probing.py): Adam with coupled L2 weight decay 1e-3 (not AdamW), peak
# lr 1e-3 at any batch size (the reference scales the lr by bs/256 and then overwrites it with the unscaled schedule:
# PLP-1, so no auto_scale_lr here), per-iteration linear warm-up from exactly 0 over int(0.1 T) steps, then cosine
# (WarmupCosineLR). T = ceil(N_train / batch) * 100 epochs is set by the dataset bases, which
# inherit this file: train_cfg.max_iters and param_scheduler.end must stay equal (override both together).
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3))
# Train, validate and test on cached features of the configured images (extracted first if missing).
val_cfg = dict(type='CachedFeatureValLoop', sets=['id'])  # validation: probe top-1 vs the TRUE labels of ID test
test_cfg = dict(type='CachedFeatureTestLoop')
val_evaluator = dict(type='Accuracy', topk=(1, ))
log_processor = dict(by_epoch=False)
randomness = dict(seed=42, deterministic=False)  # PLP's seed
