# OpenOOD v1.5 ImageNet-1k benchmark: near = SSB-hard, NINCO; far = iNaturalist, Textures, OpenImage-O.
# Read from OpenOOD's image lists (benchmark_imglist/imagenet/*.txt, "relative/path label"), with image paths
# relative to data/openood/images_largescale. Get both from the OpenOOD v1.5 download script (README "Data").
_imglist = 'data/openood/benchmark_imglist/imagenet/'
_images = 'data/openood/images_largescale'
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
        id_set=dict(name='ImageNet', ann_file=_imglist + 'test_imagenet.txt', data_prefix=_images),
        ood_sets=[
            dict(name='SSB-hard', ann_file=_imglist + 'test_ssb_hard.txt', data_prefix=_images, group='near'),
            dict(name='NINCO', ann_file=_imglist + 'test_ninco.txt', data_prefix=_images, group='near'),
            dict(name='iNaturalist-v1.5', ann_file=_imglist + 'test_inaturalist.txt', data_prefix=_images,
                 group='far'),
            dict(name='Textures-v1.5', ann_file=_imglist + 'test_textures.txt', data_prefix=_images, group='far'),
            dict(name='OpenImage-O', ann_file=_imglist + 'test_openimage_o.txt', data_prefix=_images,
                 group='far'),
        ],
        class_names='txtfiles/imagenet_classes.txt',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
test_cfg = dict(type='TestLoop')
