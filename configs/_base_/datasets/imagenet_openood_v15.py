# OpenOOD v1.5 ImageNet-1k benchmark: near = SSB-hard, NINCO; far = iNaturalist, Textures, OpenImage-O.
# Read from OpenOOD's image lists (benchmark_imglist/imagenet/*.txt, "relative/path label"), with image paths
# relative to data/openood/images_largescale. Get both from the OpenOOD v1.5 download script (README "Data").
_base_ = './imagenet_mos_ood.py'  # same preprocessing, evaluator and loop

_imglist = 'data/openood/benchmark_imglist/imagenet/'
_images = 'data/openood/images_largescale'
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
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
        pipeline={{_base_.test_pipeline}},
    ),
)
