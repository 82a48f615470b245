# ImageNet-1k val (ID) vs the MOS far-OOD four: iNaturalist, SUN, Places, Textures (benchmark `imagenet_mos`).
# Layout (see README "Data"; `python tools/verify_data.py --benchmark imagenet_mos` checks it):
#   data/imagenet/val/ILSVRC2012_val_*.JPEG + data/imagenet/meta/val.txt   (mmpretrain's ImageNet val list)
#   data/ood_data/{iNaturalist,SUN,Places,Textures}/...                    (scanned recursively)
# Preprocessing as NegLabel/MCM: bilinear short-side resize to 224 (NL-11, docs/reference_deviations.md), centre crop.
test_pipeline = [
    # the references' Image.open(p).convert('RGB') pixels (docs/decoding.md)
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
test_dataloader = dict(
    batch_size=256,
    num_workers='auto',  # from the CPU count (at most 16; OODTestLoop resolves it), or a number
    sampler=dict(type='DefaultSampler', shuffle=False),
    # sets, groups, class names and paths: the benchmark table (mmood/datasets/benchmarks.py, `imagenet_mos`);
    # `benchmark_root` moves the whole tree, explicit `id_set` / `ood_sets` replace the table's
    dataset=dict(type='OODEvalDataset', benchmark='imagenet_mos', benchmark_root='data', pipeline=test_pipeline),
)
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
test_cfg = dict(type='OODTestLoop')  # mmengine's TestLoop + data-loader defaults from the machine
