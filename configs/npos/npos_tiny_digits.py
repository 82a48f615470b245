# NPOS on the offline digits demo: the tiny CLIP trained by configs/clip/clip_tiny_digits.py, its 2 ViT blocks, ln_post
# and proj fine-tuned with LogitNorm against the demo's caption prototypes, and an outlier MLP trained against
# outliers synthesised around the boundary of per-class queues of the digits 0-4 embeddings (docs/npos.md).
# The model, losses and scores are those of configs/npos/npos_vitb16_in100.py; the queues, the synthesis sizes and the
# schedule are scaled to ~630 training images (~126 per class). Trained on cached trunk tokens (the path of the
# ImageNet-100 config); detects digits 5-9 (near) and noise (far) with `mcm` and `outlier`.
#   python tools/train.py configs/npos/npos_tiny_digits.py --cfg-options model.backbone.pretrained=<digits CLIP>
#   python tools/test.py configs/npos/npos_tiny_digits.py work_dirs/npos_tiny_digits/iter_400.pth --cfg-options ...
_base_ = ['../_base_/models/clip_tiny.py', '../_base_/datasets/digits_ood.py', '../_base_/default_runtime.py']

model = dict(
    type='NPOSClassifier',
    backbone=dict(pretrained='checkpoints/clip_tiny_digits.pth', trainable_blocks=2, frozen=False),
    class_names=['zero', 'one', 'two', 'three', 'four'],
    # the caption phrases the tiny model was trained on (it never saw NPOS's 18 ImageNet templates)
    templates=['a photo of the digit {}', 'the number {}', 'a handwritten {}'],
    head=dict(_delete_=True, type='MCMHead'),  # MCM at tau = 1
    extra_heads=[dict(type='NPOSHead'), dict(type='LogitHead', scores=('energy', ), logit_scale=None)],
    # sigma 0.7: the noise scaled to the tiny tower's 32-d raw embeddings (norm ~10; ~1.5 apart within a class, ~15
    # between classes). CLIP's sigma 0.1 in 512-d has norm ~2.3 (raises a norm-10 embedding's norm by ~2.5 %); in 32-d
    # that is sigma ~0.4-0.7. Much larger sigma (2) makes the outliers' norm the cue and can invert the outlier score
    # (the test suite's 10-epoch CLIP: AUROC 22.75 on digits 5-9); docs/npos.md has the measured values.
    synthesis=dict(type='NPOSOutlierSynthesis', queue_size=64, k=16, select=16, picks=2, num_draws=200, sigma=0.7,
                   keep=2, seed=0),
    loss_id=dict(type='LogitNormLoss', temperature=8.0),
    loss_reg=dict(type='OutlierRegLoss', loss_weight=0.1),
    start_iter=100,  # 5 epochs of ~20 iterations (630 images / 32), of 20 (the ImageNet-100 recipe's half-way point)
    logit_scale=None,
)
digits_train = dict(type='DigitsCaptionDataset', digits=(0, 1, 2, 3, 4), split='train', split_seed=0, test_size=0.3,
                    image_size=32, pipeline=[dict(type='PackInputs')])
train_dataloader = dict(batch_size=32, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=digits_train)
train_cfg = dict(type='CachedFeatureTrainLoop', max_iters=400, val_interval=10**9,
                 extraction=dict(batch_size=128, storage='float16'))
val_cfg = None
val_dataloader = None
val_evaluator = None
# the recipe's SGD (momentum 0.9, Nesterov, weight decay 1e-4) with rates for a 2-block tower that is all
# "last blocks": 0.001 for the blocks (0.1 / 0.01 lower the tiny tower's MCM, e.g. 88 -> 78 AUROC on digits 5-9) and
# 0.1 for the outlier MLP (the recipe's lr x 0.1 leaves it untrained in 300 synthesis steps: AUROC ~50)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.001, momentum=0.9, nesterov=True, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'outlier_mlp': dict(lr_mult=100.0)}))
param_scheduler = []
log_processor = dict(by_epoch=False)
default_hooks = dict(logger=dict(type='LoggerHook', interval=20),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2,
                                     save_last=True))
randomness = dict(seed=0)
# one intra-op thread: the trained weights, and so the recorded numbers, do not depend on the core count
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='IntraOpThreadsHook', threads=1)]
