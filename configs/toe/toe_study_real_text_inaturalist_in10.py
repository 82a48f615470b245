# TOE's real/virtual x image/text study (NeurIPS 2023, arXiv:2310.16492; docs/toe.md, "The real/virtual study"):
# cell real x text, ID ImageNet-10, test OOD ImageNet-20 val,
# the class names of iNaturalist ("a photo of a {c}") as outliers.
#   python tools/train.py configs/toe/toe_study_real_text_inaturalist_in10.py
#   python tools/test.py configs/toe/toe_study_real_text_inaturalist_in10.py work_dirs/<config>/iter_<N>.pth
#   python tools/analysis_tools/study_table.py work_dirs/   # the study's table over every finished test run
_base_ = ['../_base_/models/toe_study_real_text.py']
model = dict(class_names='txtfiles/imagenet10_classes.txt',
             outliers=dict(source={{_base_.aux_name_lists.inaturalist}}))
train_dataloader = dict(dataset={{_base_.imagenet10_train}})
id_train_dataloader = dict(dataset={{_base_.imagenet10_train}})
test_dataloader = dict(dataset=dict(benchmark='imagenet10'))
study = dict(name='TOE real/virtual x image/text', id_set='ImageNet-10', cell='real x text', aux='iNaturalist')
