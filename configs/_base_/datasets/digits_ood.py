# The offline digits benchmark of the demo configs (docs/demo.md): ID = held-out digits 0-4, OOD = held-out digits
# 5-9 (near) and seeded noise images (far); 32x32 images in memory, nothing to download.
test_pipeline = [dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))]
test_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DigitsOODDataset', id_digits=(0, 1, 2, 3, 4), ood_digits=(5, 6, 7, 8, 9), num_noise=200,
                 noise_seed=0, split='test', split_seed=0, test_size=0.3, image_size=32,
                 id_name='digits 0-4', ood_name='digits 5-9', noise_name='noise', pipeline=test_pipeline),
)
test_evaluator = dict(type='OODMetric', fpr_positive='id', fpr_rule='closest')
test_cfg = dict(type='OODTestLoop')  # mmengine's TestLoop + data-loader defaults (workers, stacked batches)
