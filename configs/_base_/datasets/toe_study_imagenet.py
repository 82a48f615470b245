_base_ = ['./toe_imagenet.py']
# TOE's study data (docs/toe.md, "The real/virtual study"): ID = ImageNet-10 or ImageNet-20 (MCM's subsets,
# data/imagenet{10,20}/{train,val}/<wnid>/), test OOD = the other subset's val images (benchmarks `imagenet10`,
# `imagenet20`: TOE's pairing). Each config picks its ID set (train_dataloader.dataset = {{_base_.imagenet10_train}} or
# imagenet20_train, test_dataloader.dataset.benchmark) and its auxiliary set; the auxiliary outlier sets (Textures/DTD,
# Places, SUN, iNaturalist) are disjoint from both test OOD sets.
imagenet10_train = dict(_delete_=True, type='CustomDataset', data_root='data/imagenet10/train',
                        pipeline={{_base_.toe_pipeline}})
imagenet20_train = dict(_delete_=True, type='CustomDataset', data_root='data/imagenet20/train',
                        pipeline={{_base_.toe_pipeline}})
# the auxiliary sets' images (real x image): the far-OOD folders of the `imagenet_mos` benchmark (the reference: DTD's
# images folder and the same three MOS folders)
aux_image_sets = dict(
    dtd=dict(type='BenchmarkSetImages', benchmark='imagenet_mos', set_name='Textures',
             pipeline={{_base_.toe_pipeline}}),
    places=dict(type='BenchmarkSetImages', benchmark='imagenet_mos', set_name='Places',
                pipeline={{_base_.toe_pipeline}}),
    sun=dict(type='BenchmarkSetImages', benchmark='imagenet_mos', set_name='SUN', pipeline={{_base_.toe_pipeline}}),
    inaturalist=dict(type='BenchmarkSetImages', benchmark='imagenet_mos', set_name='iNaturalist',
                     pipeline={{_base_.toe_pipeline}}),
)
# the auxiliary sets' class names (real x text), one per line: DTD's 47 shipped; the other three you write from the
# sets' class lists (TOE: Places / SUN: the first word of the third "/"-field of each class_list_old.txt line,
# iNaturalist: the lines of its class_list_old.txt)
aux_name_lists = dict(dtd='txtfiles/dtd_classes.txt', places='data/toe/study/places_class_names.txt',
                      sun='data/toe/study/sun_class_names.txt',
                      inaturalist='data/toe/study/inaturalist_class_names.txt')
