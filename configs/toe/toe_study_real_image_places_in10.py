# TOE's real/virtual x image/text study (NeurIPS 2023, arXiv:2310.16492; docs/toe.md, "The real/virtual study"):
# cell real x image, ID ImageNet-10, test OOD ImageNet-20 val, the images of Places as outliers.
#   python tools/train.py configs/toe/toe_study_real_image_places_in10.py
#   python tools/test.py configs/toe/toe_study_real_image_places_in10.py work_dirs/<config>/iter_<N>.pth
#   python tools/analysis_tools/study_table.py work_dirs/   # the study's table over every finished test run
_base_ = ['../_base_/models/toe_study_real_image.py']
model = dict(class_names='txtfiles/imagenet10_classes.txt',
             aux_images={{_base_.aux_image_sets.places}})
train_dataloader = dict(dataset={{_base_.imagenet10_train}})
id_train_dataloader = dict(dataset={{_base_.imagenet10_train}})
test_dataloader = dict(dataset=dict(benchmark='imagenet10'))
study = dict(name='TOE real/virtual x image/text', id_set='ImageNet-10', cell='real x image', aux='Places')
