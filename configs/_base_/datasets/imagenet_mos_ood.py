# ImageNet-1k val (ID) vs the MOS far-OOD four: iNaturalist, SUN, Places, Textures.
# Layout (see README "Data"):
#   data/imagenet/val/ILSVRC2012_val_*.JPEG + data/imagenet/meta/val.txt   (mmpretrain's ImageNet val list)
#   data/ood_data/{iNaturalist,SUN,Places,Textures}/...                    (scanned recursively)
# Preprocessing as NegLabel/MCM: bilinear short-side resize to 224 (reference_bugs NL-11), centre crop.
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
test_dataloader = dict(
    batch_size=256,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OODEvalDataset',
        id_set=dict(name='ImageNet', data_root='data/imagenet/val', ann_file='data/imagenet/meta/val.txt'),
        ood_sets=[
            dict(name='iNaturalist', data_root='data/ood_data/iNaturalist', group='far'),
            dict(name='SUN', data_root='data/ood_data/SUN', group='far'),
            dict(name='Places', data_root='data/ood_data/Places', group='far'),
            dict(name='Textures', data_root='data/ood_data/Textures', group='far'),
        ],
        class_names='txtfiles/imagenet_classes.txt',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
test_cfg = dict(type='TestLoop')
