# CLIPN on the offline digits demo: the tiny CLIP trained by configs/clip/clip_tiny_digits.py (frozen) gets a "no" text
# tower trained on the digits caption set (0-4), then detects digits 5-9 (near) and noise (far) with ATD / CTW.
# The model, loss, scores and checkpoints are those of configs/clipn/clipn_vitb16_cc3m.py; only the data, the tower and
# the schedule are small (docs/clipn.md). Weights: the exported digits CLIP (see docs/demo.md):
#   python tools/train.py configs/clip/clip_tiny_digits.py
#   python tools/export_clip_weights.py work_dirs/clip_tiny_digits checkpoints/clip_tiny_digits.pth
#   python tools/train.py configs/clipn/clipn_tiny_digits.py
#   python tools/test.py configs/clipn/clipn_tiny_digits.py work_dirs/clipn_tiny_digits/epoch_6.pth
_base_ = ['../_base_/models/clip_tiny.py', '../_base_/datasets/digits_ood.py', '../_base_/default_runtime.py']

class_names = ['zero', 'one', 'two', 'three', 'four']
model = dict(
    _delete_=True,
    type='CLIPNClassifier',
    backbone=dict(type='OpenCLIPBackbone', model_name='mmood-tiny-vit', pretrained='checkpoints/clip_tiny_digits.pth',
                  model_cfg={{_base_.tiny_model_cfg}}),
    class_names=class_names,
    # the caption phrases the tiny model was trained on (it never saw CLIPN's ImageNet prompts)
    templates=['a photo of the digit {}', 'the number {}', 'a handwritten {}'],
    num_prompts=16,
    # same-class captions ("the number 3" for another image of a 3) are not negatives on 5 classes
    loss=dict(type='CLIPNLoss', mask_same_class=True),
    # the tiny model's own (trained, ~14) scale at test, for the yes / no logits alike: its cosines are spread far
    # wider than a LAION CLIP's, and the literal 100 would saturate every sigmoid
    head=dict(type='CLIPNHead', logit_scale=None),
    extra_heads=[dict(type='LogitHead', logit_scale=None),
                 dict(type='MCMHead', tau=0.1)],
    logit_scale=None,
    cache_dir=None,
)

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='DigitsCaptionDataset', digits=(0, 1, 2, 3, 4), split='train', split_seed=0, test_size=0.3,
                 image_size=32,
                 pipeline=[dict(type='RandomCaption', seed=0), dict(type='PackInputs', algorithm_keys=('text', ))]),
)

max_epochs = 6
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
# CLIPN's optimizer (xmed-lab/CLIPN src/run.sh): AdamW, betas (0.9, 0.98), eps 1e-6, weight decay 0.2 except 1-D
# parameters
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=0.0,
                        convert_to_iter_based=True)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
)
randomness = dict(seed=0, deterministic=True)
# one intra-op thread: the trained weights, and so the recorded numbers, do not depend on the core count
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='DatasetEpochHook'), dict(type='IntraOpThreadsHook', threads=1)]
