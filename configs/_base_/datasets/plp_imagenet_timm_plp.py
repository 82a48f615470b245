# PLP on ImageNet-1k (./plp_imagenet.py: ImageNet-1k train / val, the MOS four, NINCO, ImageNet-O) with the
# preprocessing PLP's embedding script gives every non-CLIP model (model_builders.default_prepro(224)): a bicubic
# 224 x 224 squash (no crop), ImageNet mean/std. These are the numbers of
# mmood.models.backbones.timm_preprocessing('plp') (the TimmBackbone tests check that they agree). Probe as PLP's
# linear_probing.py: z-scored features, batch 8192, 100 epochs (./plp_imagenet.py).
_base_ = ['./plp_imagenet.py', '../models/plp_timm_probe.py']  # the probe's model part, its preprocessor here

timm_plp_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='Resize', scale=(224, 224), backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
model = dict(data_preprocessor=dict(type='FeatureClsDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                    std=[58.395, 57.12, 57.375], to_rgb=True))
train_dataloader = dict(dataset=dict(pipeline=timm_plp_pipeline))
id_train_dataloader = dict(dataset=dict(pipeline=timm_plp_pipeline))
val_dataloader = dict(dataset=dict(pipeline=timm_plp_pipeline))
test_dataloader = dict(dataset=dict(pipeline=timm_plp_pipeline))
