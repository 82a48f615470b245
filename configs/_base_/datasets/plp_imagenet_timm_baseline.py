# PLP on ImageNet-1k (./plp_imagenet.py: ImageNet-1k train / val, the MOS four, NINCO, ImageNet-O) with the settings
# of PLP's baseline scripts (baseline_probe_in21k_models.py, baseline_fine_tuned_models.py): a bilinear 256 x 256
# squash, centre crop 224, ImageNet mean/std -- the numbers of
# mmood.models.backbones.timm_preprocessing('plp_baseline') (the TimmBackbone tests check that they agree) -- and a
# probe on the raw (not z-scored) features, batch 1024, 100 epochs.
_base_ = ['./plp_imagenet.py', '../models/plp_timm_probe.py']  # the probe's model part, its preprocessor here

timm_baseline_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='Resize', scale=(256, 256), backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
model = dict(data_preprocessor=dict(type='FeatureClsDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                    std=[58.395, 57.12, 57.375], to_rgb=True),
             head=dict(zscore=False))  # the baseline script trains nn.Linear on the raw embeddings

# T = ceil(1,281,167 / 1024) * 100 = 1252 * 100 = 125,200 iterations, 12,520 of warm-up; peak lr 1e-3 (the script's
# schedule overwrites its batch-scaled lr, as in PLP's own probe).
train_batch_size = 1024
max_iters = -(-1281167 // train_batch_size) * 100
train_dataloader = dict(batch_size=train_batch_size, dataset=dict(pipeline=timm_baseline_pipeline))
id_train_dataloader = dict(dataset=dict(pipeline=timm_baseline_pipeline))
val_dataloader = dict(dataset=dict(pipeline=timm_baseline_pipeline))
test_dataloader = dict(dataset=dict(pipeline=timm_baseline_pipeline))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 10)
param_scheduler = dict(end=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 10))
