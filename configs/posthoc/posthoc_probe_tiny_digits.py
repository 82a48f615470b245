# The classic post-hoc detectors on a trained linear probe (docs/posthoc.md, the probe view): TOE's probe on the demo's
# tiny CLIP (configs/toe/toe_word_tiny_digits.py: one linear layer on the projected pre_proj feature), every detector as
# a head of one run; the fitted ones read the probe's training set (digits 0-4, train half).
#   python tools/train.py configs/toe/toe_word_tiny_digits.py --cfg-options model.backbone.pretrained=<digits CLIP .pth>
#   python tools/test.py configs/posthoc/posthoc_probe_tiny_digits.py work_dirs/toe_word_tiny_digits/iter_534.pth \
#       --cfg-options model.backbone.pretrained=<digits CLIP .pth>
_base_ = ['../toe/toe_word_tiny_digits.py']

model = dict(extra_heads=[
    dict(type='GENHead', logits='probe', prefix='probe_'),
    dict(type='KLMatchingHead', logits='probe', prefix='probe_'),
    dict(type='GradNormHead', view='probe', prefix='probe_'),
    dict(type='ReActHead', view='probe', prefix='probe_'),
    dict(type='ASHHead', view='probe', prefix='probe_'),
    dict(type='SCALEHead', view='probe', prefix='probe_'),
    dict(type='DICEHead', view='probe', prefix='probe_'),
    dict(type='ViMHead', view='probe', dim=16, prefix='probe_'),  # the probe reads D = 32 (the projected feature)
    dict(type='SHEHead', view='probe', prefix='probe_'),
    dict(type='NNGuideHead', view='probe', k=10, alpha=0.1, prefix='probe_'),
    dict(type='FDBDHead', view='probe', prefix='probe_'),
])
