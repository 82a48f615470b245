# NPOS (ICLR 2023), CLIP part: OpenAI CLIP ViT-B/16 fine-tuned (blocks 10-11, ln_post, proj, outlier MLP) with
# LogitNorm and non-parametric outlier synthesis on NPOS's ImageNet-100, scored on its val images vs iNaturalist /
# SUN / Places / Textures (docs/npos.md; the IN-100 script of deeplearning-wisc/npos @583c06d). Trained on cached trunk
# tokens (the tokens entering block 10, NP-9), as the reference:
#   python tools/train.py configs/npos/npos_vitb16_in100.py        # extracts the missing tokens first, then trains
#   python tools/test.py configs/npos/npos_vitb16_in100.py work_dirs/npos_vitb16_in100/iter_3180.pth
#   python tools/verify_data.py configs/npos/npos_vitb16_in100.py  # checks every path below
#
# Data (README "Data"): the standard tree data/imagenet/train/<wnid>/*.JPEG, data/imagenet/val/*.JPEG +
# data/imagenet/meta/val.txt, data/ood_data/{iNaturalist,SUN,Places,Textures}/. NPOS's 100 classes are not MCM's
# ImageNet-100 (benchmark `imagenet100`) and their labels follow NPOS's list, not the sorted wnids (label i = line i
# of txtfiles/npos_imagenet100_wnids.txt; the first is n01986214 "hermit crab"): no dataset type picks class folders
# in a given order for training, so two list files ("relative/path label" per line) name the images and labels.
# Write them once: python tools/dataset_converters/make_subset_lists.py --root data/imagenet
# --wnids txtfiles/npos_imagenet100_wnids.txt (meta/npos_imagenet100_{train,val}.txt; the val labels are mapped
# from meta/val.txt's sorted-wnid indices, txtfiles/imagenet_wnids.txt, to NPOS's).
#
# Disk: fp16 tokens, 197 x 768 x 2 = 302,592 bytes per image: ID train ~1.27e5 images = ~38 GB, ID val 5,000 =
# 1.5 GB, the OOD four (35,640 images) = 10.8 GB; under the feature cache (--cache-dir, $MMOOD_CACHE or
# ~/.cache/mmood). They are read memory-mapped (train_cfg.in_memory=True reads the 38 GB into RAM, as the reference).
_base_ = ['../_base_/models/npos_vitb16.py', '../_base_/default_runtime.py']

# ---------------------------------------------------------------- recipe (the reference IN-100 script)
# Iterations per epoch: the reference iterates ceil(#train / 800) batches per epoch, ~159 for NPOS's IN-100 train
# split (~1.27-1.30e5 images; 159 batches of 800 hold 126,401-127,200). The exact count of these 100
# wnids' ImageNet train images is not derivable here: a user whose train list holds another number of images
# changes this one constant (ceil(images / train_batch_size)). The sampler is infinite (reshuffled passes, full
# batches), so an "epoch" is 159 x 800 = 127,200 samples.
iters_per_epoch = 159
train_batch_size = 800  # one process, as the README's command; under DDP: 800 / GPUs per GPU (queues gather all)
epochs = 20  # --epochs 20
start_epoch = 10  # --start_epoch 10: synthesis from epoch 10 (~1,590 synthesis iterations)
max_iters = epochs * iters_per_epoch  # 3,180
start_iter = start_epoch * iters_per_epoch  # 1,590

model = dict(
    class_names='txtfiles/npos_imagenet100_classes.txt',  # NPOS's names = imagenet_classes.txt at its 100 indices
    synthesis=dict(queue_size=1000, k=400, select=300, picks=3, num_draws=1500, sigma=0.1, keep=2,
                   rejection='fixed', seed=0),  # N, K, select, P, L, sigma, m (queues: 100 x 1000 x 512 fp32 = 205 MB)
    loss_id=dict(temperature=8.0),  # T
    loss_reg=dict(loss_weight=0.1),  # lambda
    start_iter=start_iter,
)

# ---------------------------------------------------------------- data (docs/npos.md)
# CLIP's eval transform for train and test alike, no augmentation: the model base's npos_pipeline
# ID train: the ImageNet train images of NPOS's 100 wnids, labels in its order (the list written above)
imagenet100_train = dict(type='CustomDataset', data_root='data/imagenet', data_prefix='train',
                         ann_file='meta/npos_imagenet100_train.txt', pipeline={{_base_.npos_pipeline}})
train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers='auto',  # image decoding workers of the one-time extraction (from the CPU count, <= 16)
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=imagenet100_train,
)
train_cfg = dict(type='CachedFeatureTrainLoop', max_iters=max_iters, val_interval=10**9,
                 extraction=dict(storage='float16', batch_size=256))  # fp16 tokens, as the reference's feature.pt
val_cfg = None
val_dataloader = None
val_evaluator = None

# Test: ImageNet-100 val (the 50 val images of each class) vs the MOS four, full named sets (NP-11 fixed), scored from
# cached fp16 trunk tokens through the checkpoint's blocks (the tokens do not depend on the checkpoint, so every
# checkpoint reuses them). test_cfg=dict(_delete_=True, type='OODTestLoop') scores the images instead.
test_dataloader = dict(
    batch_size=256,
    num_workers='auto',
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='OODEvalDataset', benchmark='npos_imagenet100', benchmark_root='data',
                 pipeline={{_base_.npos_pipeline}}),
)
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')  # ID positive, Hendrycks' rule
test_cfg = dict(type='CachedFeatureTestLoop', extraction=dict(storage='float16', batch_size=256))

# ---------------------------------------------------------------- optimisation (the reference IN-100 script)
# SGD (the model base's optim_wrapper). Constant lr: the reference's MultiStepLR(milestones=[60], gamma=10) is
# never reached in 20 epochs (NP-5).
param_scheduler = []
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    # one checkpoint per epoch, the latest kept (the reference deletes the previous epoch's); they hold the trained
    # tensors, the queues and the synthesis step, so a resume equals an uninterrupted run (NP-12)
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=iters_per_epoch, max_keep_ckpts=1,
                    save_last=True),
)
