# MCM on the offline digits benchmark: the tiny CLIP trained by configs/clip/clip_tiny_digits.py, zero-shot.
# ID = held-out digits 0-4 (classes "zero".."four"); OOD = held-out digits 5-9 (near) and seeded noise (far).
# Weights: tools/demo.py trains, exports and passes them in; by hand (see docs/demo.md):
#   python tools/train.py configs/clip/clip_tiny_digits.py
#   python tools/export_clip_weights.py work_dirs/clip_tiny_digits checkpoints/clip_tiny_digits.pth
#   python tools/test.py configs/mcm/mcm_tiny_digits.py
# (or --cfg-options model.backbone.pretrained=/path/to/exported.pth).
_base_ = ['../_base_/models/clip_tiny.py', '../_base_/datasets/digits_ood.py', '../_base_/default_runtime.py']

model = dict(
    backbone=dict(pretrained='checkpoints/clip_tiny_digits.pth'),
    class_names=['zero', 'one', 'two', 'three', 'four'],
    # the caption phrases the tiny model was trained on (it never saw "a photo of a {}")
    templates=['a photo of the digit {}', 'the number {}', 'a handwritten {}'],
    # tau = 0.1, near 1 / (the tiny model's learned logit scale, ~14); MCM's tau = 1 gives about the same AUROC
    # here but a higher FPR95
    head=dict(_delete_=True, type='MCMHead', tau=0.1),
    logit_scale=None,  # ID class probabilities with the trained logit scale
)
