# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-B-16 / openai, CIFAR-100 (ID) vs
# CIFAR-10 (OOD), CIFAR in mmpretrain's python format; class names keep underscores ("aquarium_fish"), as PLP.
# Batch 256, 100 epochs (19,600 iterations). See docs/plp.md.
#   python tools/train.py configs/plp/plp_vitb16_cifar100.py
#   python tools/test.py configs/plp/plp_vitb16_cifar100.py work_dirs/plp_vitb16_cifar100/iter_19600.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_cifar.py']
model = dict(backbone=dict(model_name='ViT-B-16', pretrained='openai', activation='quick_gelu'),
             class_names='txtfiles/cifar100_classes.txt', data_preprocessor={{_base_.clip_rgb_preprocessor}})
train_dataloader = dict(dataset={{_base_.cifar100_train}})
id_train_dataloader = dict(dataset={{_base_.cifar100_train}})
val_dataloader = dict(dataset={{_base_.cifar100_vs_cifar10}})
test_dataloader = dict(dataset={{_base_.cifar100_vs_cifar10}})
