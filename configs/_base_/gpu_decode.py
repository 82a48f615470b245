# GPU JPEG decoding: an option, off by default (docs/performance.md, "Faster decoders": its speed and how far scores
# move; docs/decoding.md: its decoding). Plain JPEGs stay encoded in the loading workers and are decoded (nvJPEG),
# resized and centre-cropped on the GPU in one batch per step; other images are decoded on the CPU and resized/cropped
# with the same geometry. Needs CUDA and a torchvision whose `torchvision.io` imports; building the model says which is
# missing otherwise.
#
# This file only defines two variables: mmengine refuses a key that two bases both define, so it cannot set
# `test_dataloader` or `model` next to a method config. A config in a method's folder (configs/mcm/) takes the method
# config and this file as bases and puts the two variables in place itself (ImageNet configs: bilinear short side
# 224, centre crop 224):
#
#   _base_ = ['./mcm_vitb16.py', '../_base_/gpu_decode.py']
#   test_dataloader = dict(dataset=dict(pipeline=_base_.gpu_decode_pipeline))
#   model = dict(data_preprocessor=_base_.gpu_decode_preprocessor)
#
# (`{{_base_.gpu_decode_pipeline}}` works too.) The pipeline list replaces the method's whole test pipeline; the
# preprocessor dict is merged into the method's `model.data_preprocessor`, which the zero-shot ImageNet configs leave
# unset (a method config that sets its own would keep its other keys: write
# `dict(_delete_=True, **_base_.gpu_decode_preprocessor)` there).
# LoadEncodedImage takes the decoding options of LoadOODImage (default: the references' `convert('RGB')` pixels).
gpu_decode_pipeline = [
    dict(type='LoadEncodedImage'),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
gpu_decode_preprocessor = dict(
    type='GPUDecodeDataPreprocessor', scale=224, edge='short', interpolation='bilinear', crop_size=224,
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255], to_rgb=True)
