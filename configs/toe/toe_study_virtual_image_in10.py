# TOE's real/virtual x image/text study (NeurIPS 2023, arXiv:2310.16492; docs/toe.md, "The real/virtual study"):
# cell virtual x image, ID ImageNet-10, test OOD ImageNet-20 val, no auxiliary data (virtual outliers).
#   python tools/train.py configs/toe/toe_study_virtual_image_in10.py
#   python tools/test.py configs/toe/toe_study_virtual_image_in10.py work_dirs/<config>/iter_<N>.pth
_base_ = ['../_base_/models/toe_study_virtual_image.py']
model = dict(class_names='txtfiles/imagenet10_classes.txt')
train_dataloader = dict(dataset={{_base_.imagenet10_train}})
id_train_dataloader = dict(dataset={{_base_.imagenet10_train}})
test_dataloader = dict(dataset=dict(benchmark='imagenet10'))
study = dict(name='TOE real/virtual x image/text', id_set='ImageNet-10', cell='virtual x image', aux='none (virtual)')
