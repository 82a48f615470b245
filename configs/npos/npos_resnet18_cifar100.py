# NPOS from scratch on CIFAR-100 with ResNet-18: the network of OpenOOD's NPOS port (ResNet18_32x32 for both CIFARs),
# for comparison with OpenOOD's tables; otherwise the authors' CIFAR-100 recipe
# (configs/npos/npos_resnet34_cifar100.py).
# OpenOOD's own settings differ further (100 epochs, lr 0.1, warm-up, start epoch 40, proto_m 0.95, K = 50 with
# APS; docs/npos.md); its benchmark: --cfg-options test_dataloader.dataset.benchmark=openood_v15_cifar100
_base_ = ['./npos_resnet34_cifar100.py']
model = dict(backbone=dict(depth=18))
