# PLP (TMLR 2024): linear probe on zero-shot pseudo-labels, open_clip ViT-B-16 / openai, CIFAR-10 (ID) vs
# CIFAR-100 (OOD), CIFAR in mmpretrain's python format. Batch 256, 100 epochs (19,600 iterations). See docs/plp.md.
#   python tools/train.py configs/plp/plp_vitb16_cifar10.py
#   python tools/test.py configs/plp/plp_vitb16_cifar10.py work_dirs/plp_vitb16_cifar10/iter_19600.pth
_base_ = ['../_base_/models/plp_linear_probe.py', '../_base_/datasets/plp_cifar.py']
model = dict(backbone=dict(model_name='ViT-B-16', pretrained='openai', activation='quick_gelu'),
             class_names='txtfiles/cifar10_classes.txt',
             data_preprocessor={{_base_.clip_rgb_preprocessor}})
