# NPOS trained from scratch on CIFAR-100, the authors' recipe (train_npos_cifar100.sh: ResNet-34, proto_m 0.5, the
# other values as CIFAR-10), tested with KNN (K = 300) on `cifar100_small_ood` (docs/npos.md). The reference runs it
# under DataParallel on 4 GPUs (batch 256 in total); under DDP give 256 / GPUs per GPU (the queues and the CIDER
# prototypes see the gathered batch).
_base_ = ['../_base_/models/npos_resnet_cifar.py', '../_base_/datasets/npos_cifar.py',
          '../_base_/schedules/npos_cifar.py']
start_epoch = 200
model = dict(backbone=dict(depth=34), class_names='txtfiles/cifar100_classes.txt', cider=dict(momentum=0.5),
             start_iter=start_epoch * 195,
             # CIFAR-100 mean/std (train = test in the reference), x 255
             data_preprocessor=dict(mean=[129.3105, 124.1085, 112.404], std=[68.2125, 65.4075, 70.4055]))
cifar100_train = dict(type='CIFAR100', data_root='data/cifar100', split='train', download=False,
                      pipeline={{_base_.npos_train_pipeline}})
cifar100_train_bank = dict(type='CIFAR100', data_root='data/cifar100', split='train', download=False,
                           pipeline={{_base_.npos_test_pipeline}})
train_dataloader = dict(dataset=cifar100_train)
id_train_dataloader = dict(dataset=cifar100_train_bank)
test_dataloader = dict(dataset=dict(benchmark='cifar100_small_ood'))
