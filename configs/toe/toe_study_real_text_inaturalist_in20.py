# TOE's real/virtual x image/text study (NeurIPS 2023, arXiv:2310.16492; docs/toe.md, "The real/virtual study"):
# cell real x text, ID ImageNet-20, test OOD ImageNet-10 val,
# the class names of iNaturalist ("a photo of a {c}") as outliers.
#   python tools/train.py configs/toe/toe_study_real_text_inaturalist_in20.py
#   python tools/test.py configs/toe/toe_study_real_text_inaturalist_in20.py work_dirs/<config>/iter_<N>.pth
#   python tools/analysis_tools/study_table.py work_dirs/   # the study's table over every finished test run
_base_ = ['../_base_/models/toe_study_real_text.py']
model = dict(class_names='txtfiles/imagenet20_classes.txt',
             outliers=dict(source={{_base_.aux_name_lists.inaturalist}}))
train_dataloader = dict(dataset={{_base_.imagenet20_train}})
id_train_dataloader = dict(dataset={{_base_.imagenet20_train}})
test_dataloader = dict(dataset=dict(benchmark='imagenet20'))
study = dict(name='TOE real/virtual x image/text', id_set='ImageNet-20', cell='real x text', aux='iNaturalist')
