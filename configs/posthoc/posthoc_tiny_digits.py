# The classic post-hoc detectors on the offline digits benchmark (docs/posthoc.md), every one as a head of one run:
# the demo's tiny CLIP zero-shot (configs/mcm/mcm_tiny_digits.py: its classifier, prompts and trained logit scale), and
# the training half of digits 0-4 as the ID-train set the fitted detectors read (its features are extracted into
# the cache once, by the run itself). The digits sets are generated in memory, so this runs through tools/test.py
# (tools/score.py re-scores cached image folders):
#   python tools/test.py configs/posthoc/posthoc_tiny_digits.py --cfg-options model.backbone.pretrained=<digits CLIP
# .pth>
_base_ = ['../mcm/mcm_tiny_digits.py']

digits_train = dict(type='DigitsCaptionDataset', digits=(0, 1, 2, 3, 4), split='train', split_seed=0, test_size=0.3,
                    image_size=32, pipeline=[dict(type='PackInputs')])
id_train_dataloader = dict(batch_size=128, num_workers=0, dataset=digits_train)

model = dict(extra_heads=[
    dict(type='LogitHead', logit_scale=None),  # MSP, MaxLogit, Energy at the classifier's (trained) scale
    dict(type='GENHead', logit_scale=None),
    dict(type='KLMatchingHead', logit_scale=None),
    dict(type='GradNormHead', logit_scale=None),
    dict(type='ReActHead'),
    dict(type='ASHHead'),
    dict(type='SCALEHead'),
    dict(type='DICEHead'),
    dict(type='ViMHead', dim=32),  # the tiny tower's pre_proj has D = 64 (256 needs D > 256)
    dict(type='SHEHead'),
    dict(type='NNGuideHead', k=10, alpha=0.1),  # ~630 ID-train images: a bank of 63, the 10 nearest
    dict(type='FDBDHead'),
])
