# ODIN (docs/odin.md) on the offline digits benchmark: the demo's tiny CLIP zero-shot (configs/mcm/mcm_tiny_digits.py),
# T = 1000 and ε = 0.0014 (ODINClassifier's defaults), MCM and the baselines beside it on the unperturbed features.
#   python tools/test.py configs/odin/odin_tiny_digits.py --cfg-options model.backbone.pretrained=<digits CLIP .pth>
_base_ = ['../mcm/mcm_tiny_digits.py']

model = dict(type='ODINClassifier')
