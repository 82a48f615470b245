# FDBD on PLP's trained linear probe (docs/fdbd.md, docs/posthoc.md: the probe view -- z is what the probe's
# linear layer reads, W and b its weight and bias): configs/plp/plp_vitb16_in1k.py with the detector as an extra head,
# its score primary; fitted detectors read the probe's ID-train set (ImageNet-1k train). Train the probe first:
#   python tools/train.py configs/plp/plp_vitb16_in1k.py
#   python tools/test.py configs/fdbd/fdbd_plp_vitb16_in1k.py work_dirs/plp_vitb16_in1k/iter_<N>.pth
# or re-score PLP's cached features: tools/score.py configs/plp/plp_vitb16_in1k.py CKPT --methods config plp_fdbd
_base_ = ['../plp/plp_vitb16_in1k.py']

model = dict(extra_heads=[dict(type='FDBDHead', view='probe', prefix='plp_')], primary_score='plp_fdbd')
