# ODIN (Liang et al., ICLR 2018; docs/odin.md) on zero-shot CLIP ViT-B/16 (MCM's model: prompt "a photo of a {}",
# logits 100 · cos), ImageNet-1k vs iNaturalist / SUN / Places / Textures. T = 1000, ε = 0.0014 ([0, 1] pixels,
# divided by CLIP's std per channel): ODINClassifier's defaults (OpenOOD v1.5's). The score `odin` is primary; MCM
# and the baselines are scored on the unperturbed features of the same pass.
# ODIN back-propagates to the image: it runs from images only (tools/score.py refuses it), at about three times
# the cost of a forward pass, and with the activations kept for the backward pass (hence the smaller batch).
#   python tools/test.py configs/odin/odin_vitb16.py
_base_ = ['../mcm/mcm_vitb16.py']

model = dict(type='ODINClassifier')
test_dataloader = dict(batch_size=64)
