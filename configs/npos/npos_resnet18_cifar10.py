# NPOS trained from scratch on CIFAR-10, the authors' recipe (training_from_scratch/train_npos_cifar10.sh:
# ResNet-18, temp 0.1, sample_from 600, K 300, lr 0.5, batch 256, cov_mat 0.1, start_epoch_KNN 200,
# ID_points_num 200; proto_m 0.95), tested with KNN (K = 300) on `cifar10_small_ood` (docs/npos.md).
#   python tools/train.py configs/npos/npos_resnet18_cifar10.py
#   python tools/test.py configs/npos/npos_resnet18_cifar10.py work_dirs/npos_resnet18_cifar10/epoch_500.pth
# OpenOOD v1.5's CIFAR-10 benchmark instead: --cfg-options test_dataloader.dataset.benchmark=openood_v15_cifar10
_base_ = ['../_base_/models/npos_resnet_cifar.py', '../_base_/datasets/npos_cifar.py',
          '../_base_/schedules/npos_cifar.py']
start_epoch = 200  # start_epoch_KNN: synthesis from epoch 200 (0-based) of 500
model = dict(backbone=dict(depth=18), cider=dict(momentum=0.95),
             start_iter=start_epoch * 195)  # 39,000
