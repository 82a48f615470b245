_base_ = '../schedules/toe.py'

# TOE on ImageNet-1k (docs/toe.md): ID train = ImageNet-1k train (true labels), ID test = ImageNet-1k val, OOD =
# iNaturalist, SUN, Places, Textures (benchmark `imagenet_mos`). Layout (README "Data"):
#   data/imagenet/train/<wnid>/*.JPEG (+ data/imagenet/meta/train.txt, optional)
#   data/imagenet/val/ILSVRC2012_val_*.JPEG + data/imagenet/meta/val.txt
#   data/ood_data/{iNaturalist,SUN,Places,Textures}/...
# Preprocessing = CLIP's eval transform, no augmentation (so cached features are exact): bicubic short-side resize
# to 224, centre crop 224, RGB, CLIP mean/std.
toe_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
imagenet_train = dict(type='ImageNet', data_root='data/imagenet', split='train', pipeline=toe_pipeline)
ood_benchmark = dict(type='OODEvalDataset', benchmark='imagenet_mos', benchmark_root='data', pipeline=toe_pipeline)

train_dataloader = dict(
    batch_size=32,  # ID images per step (TOE), features served from the cache
    num_workers='auto',  # image decoding workers of the one-time extraction (from the CPU count, <= 16)
    sampler=dict(type='InfiniteSampler', shuffle=True),  # reshuffled passes, no restart pause between them
    dataset=imagenet_train,
)
id_train_dataloader = dict(batch_size=256, num_workers='auto', dataset=imagenet_train)  # score.py's fitted methods
test_dataloader = dict(batch_size=256, num_workers='auto', sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=ood_benchmark)
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
test_cfg = dict(type='CachedFeatureTestLoop')  # extracts the test sets' features once, then scores from the cache
