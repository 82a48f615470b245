# GPU JPEG decoding: an option, off by default (the README's "Evaluation throughput" gives its speed and how far scores
# move). Plain JPEGs stay encoded in the loading workers and are decoded (nvJPEG), resized and centre-cropped on the
# GPU in one batch per step; other images are decoded on the CPU and resized/cropped with the same geometry. Needs
# CUDA and a torchvision whose `torchvision.io` imports; building the model says which is missing otherwise.
# Use it after an ImageNet config (bilinear short side 224, centre crop 224), e.g.
#   _base_ = ['./mcm_vitb16.py', './_base_/gpu_decode.py']
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadEncodedImage'),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]))
model = dict(data_preprocessor=dict(
    type='GPUDecodeDataPreprocessor', scale=224, edge='short', interpolation='bilinear', crop_size=224,
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255], to_rgb=True))
