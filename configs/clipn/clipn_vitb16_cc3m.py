# CLIPN (ICCV 2023): train a "no" text tower beside a frozen LAION CLIP ViT-B/16 on CC3M image-caption pairs, then
# detect OOD images of ImageNet-1k with ATD (primary) and CTW; MSP, MaxLogit and Energy of the yes logits come with
# every run. See docs/clipn.md.
#
#   python tools/train.py configs/clipn/clipn_vitb16_cc3m.py                     # 1 GPU (set the per-GPU batch, below)
#   bash tools/dist_train.sh configs/clipn/clipn_vitb16_cc3m.py 4                # the reference: 4 GPUs x 512
#   python tools/test.py configs/clipn/clipn_vitb16_cc3m.py work_dirs/clipn_vitb16_cc3m/epoch_10.pth
#   python tools/test.py configs/clipn/clipn_vitb16_cc3m.py CKPT --cfg-options test_evaluator.fpr_rule=interp  #
# CLIPN's FPR95
#
# Released checkpoints: python tools/model_converters/clipn_to_mmood.py epoch_10.pt checkpoints/clipn_run1.pth
#
# Iterations: the loop counts epochs over the pairs; an epoch is ceil(pairs / (GPUs x train_dataloader.batch_size))
# iterations and the cosine schedule is per iteration over those. CLIPN's global batch is 2048: 4 GPUs x 512 give
# 1,412 iterations per epoch and 14,120 in 10 epochs (2,891,445 pairs). With another GPU count keep the global
# batch: --cfg-options train_dataloader.batch_size=$((2048 / GPUS)) (8 GPUs: 256). The loss contrasts the global
# batch (gathered over GPUs), so the batch is part of the method: gradient accumulation is not equivalent.
_base_ = ['../_base_/datasets/imagenet_mos_ood.py', '../_base_/default_runtime.py']

model = dict(
    type='CLIPNClassifier',
    # frozen image and yes towers; checkpoints hold the no tower only (the towers come from this tag)
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='laion2b_s34b_b88k', activation='gelu',
                  precision='fp32'),
    class_names='txtfiles/imagenet_classes.txt',
    templates='clipn',  # the 128 quoted prompts of the reference (CN-7); 'clipn_clean' without quotes and commas
    num_prompts=16,
    prompt_seed=0,
    loss=dict(type='CLIPNLoss', mask_same_class=False),  # CC3M carries no class labels
    max_logit_scale=100.0,
    # ATD (primary) and CTW at a literal x100 at test (CN-8), and msp / maxlogit / energy of the yes logits at x100:
    # the heads' defaults
    head=dict(type='CLIPNHead'),
    extra_heads=[dict(type='LogitHead')],
    logit_scale=100.0,
    cache_dir=None,  # filled by tools/ (--cache-dir, $MMOOD_CACHE or ~/.cache/mmood)
)

# CC3M as img2dataset writes it: 332 webdataset shards, NNNNN.jpg + NNNNN.txt members (docs/image_caption_data.md;
# python tools/verify_data.py configs/clipn/clipn_vitb16_cc3m.py checks them). The member index is built once (progress
# bar)
# and cached; samples without caption are dropped and counted, unreadable images replaced by the next sample.
train_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.9, 1.0), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=('text', )),
]
train_dataloader = dict(
    batch_size=512,  # per GPU: 2048 / GPUs (see the top of this file)
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageCaptionDataset', shards='data/cc3m/gcc-train-{00000..00331}.tar', cache_dir=None,
                 pipeline=train_pipeline),
)
train_cfg = dict(by_epoch=True, max_epochs=10)

# CLIPN's recipe (xmed-lab/CLIPN src/run.sh): AdamW 3e-4, betas (0.9, 0.98), eps 1e-6, weight decay 0.2 except 1-D
# parameters (norms, biases), fp16 autocast with a grad scaler, no clipping. AmpOptimWrapper needs CUDA.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
)
# cosine from 3e-4 to 0 per iteration over the 10 epochs, no warm-up
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10, eta_min=0.0,
                        convert_to_iter_based=True)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
)
randomness = dict(seed=0)

# testing: ImageNet-1k val vs iNaturalist / SUN / Places / Textures with CLIPN's preprocessing (bicubic resize of the
# short side to 224, centre crop); mmood's FPR95 rule by default, CLIPN's tables with test_evaluator.fpr_rule=interp
test_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
