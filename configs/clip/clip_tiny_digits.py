# Contrastive training of the tiny open_clip tower ("mmood-tiny-vit", configs/_base_/models/clip_tiny.py) on
# scikit-learn's handwritten digits 0-4 with generated captions ("a photo of the digit three", "handwritten 3").
# Offline, in memory: 800 steps of 32 pairs, about a minute on 2 CPU cores. Used by tools/demo.py; export the
# result for the zero-shot demo configs with tools/export_clip_weights.py (see docs/demo.md):
#   python tools/train.py configs/clip/clip_tiny_digits.py
#   python tools/export_clip_weights.py work_dirs/clip_tiny_digits checkpoints/clip_tiny_digits.pth
_base_ = ['../_base_/models/clip_tiny.py', '../_base_/default_runtime.py']

id_digits = (0, 1, 2, 3, 4)
# Zero-shot prompts for validation (and the demo configs): the English digit names in caption-like phrases.
class_names = ['zero', 'one', 'two', 'three', 'four']
prompt_templates = ['a photo of the digit {}', 'the number {}', 'a handwritten {}']

model = dict(
    _delete_=True,
    type='CLIPContrastiveModel',
    backbone=dict(type='OpenCLIPBackbone', model_name='mmood-tiny-vit', pretrained=None,
                  model_cfg={{_base_.tiny_model_cfg}}, frozen=False),
    loss=dict(type='CLIPContrastiveLoss', gather=True),
    class_names=class_names,
    templates=prompt_templates,
    max_logit_scale=100.0,
    # the 49,408 x 64 token table is 93 % of the parameters and ~40 % of the step time; random token vectors
    # serve the caption vocabulary just as well (and leave unseen corpus words where NegLabel expects them)
    frozen_prefixes=('token_embedding', ),
)


train_pipeline = [
    dict(type='RandomCaption', seed=0),  # one of the digit's captions per sample and epoch: f(seed, sample, epoch)
    dict(type='PackInputs', algorithm_keys=('text', )),
]
val_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    # 32, not 64: twice the steps per epoch gets the contrastive loss off its initial plateau within ~4 epochs.
    # Per process: under DDP the loss contrasts the global batch, so with 2 processes use 16: bash
    # tools/dist_train.sh ... 2 --cfg-options train_dataloader.batch_size=16 trains like one process (its gradient is
    # the full-batch one / 2, which AdamW ignores; tests/test_models/test_clip_training_distributed.py)
    batch_size=32,
    num_workers=0,  # in-memory 32x32 images; workers would only cost start-up time (and repeat caption draws)
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='DigitsCaptionDataset', digits=id_digits, split='train', split_seed=0, test_size=0.3,
                 image_size=32, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DigitsCaptionDataset', digits=id_digits, split='test', split_seed=0, test_size=0.3,
                 image_size=32, pipeline=val_pipeline, test_mode=True),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))

max_epochs = 40
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1),
    # CLIP recipe: no weight decay on norms, biases, other 1-D parameters and the logit scale
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0,
                       custom_keys={'logit_scale': dict(decay_mult=0.0)}),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=2, end=max_epochs, eta_min=1e-5,
         convert_to_iter_based=True),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
)
randomness = dict(seed=0, deterministic=True)
# the epoch reaches the samples (RandomCaption): the same captions under 2 processes and after a resume
# one intra-op thread: the trained weights, and so the recorded numbers, do not depend on the core count
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='DatasetEpochHook'), dict(type='IntraOpThreadsHook', threads=1)]
