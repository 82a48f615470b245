# Image preprocessing of the Hugging Face dual encoders (HFVLMBackbone; docs/backbones.md): per model and preset, the
# test pipeline (mmpretrain transforms) and the data preprocessor (mean / std on the 0-255 scale, BGR -> RGB). A config
# that lists this file in its _base_ takes one preset with
#   model = dict(data_preprocessor={{_base_.hf_preprocessing.align.hf.data_preprocessor}})
#   test_dataloader = dict(dataset=dict(pipeline={{_base_.hf_preprocessing.align.hf.pipeline}}))
# Presets:
#   hf  -- the model's own processor (preprocessor_config.json of its hub repository; the default):
#          ALIGN (EfficientNetImageProcessor): resize to 346 x 346 ignoring the aspect ratio, bilinear; centre crop
#          289; x / 127.5 - 1 (mean = std = 127.5). AltCLIP, GroupViT, CLIP (CLIPImageProcessor): shortest side to 224,
#          bicubic; centre crop 224; CLIP's mean / std.
#   csp -- what CSP's NegLabel fork (its mmcls/datasets/ood_dataset.py) fed all of them: shortest side, bilinear, to
#          the crop size (289 for ALIGN, 224 for the others); centre crop; CLIP's mean / std. For ALIGN that is
#          another crop of the image and another normalisation than its own processor's.
# Decoding is pillow's, as the references' Image.open(p).convert('RGB') (docs/decoding.md).
_clip_mean = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
_clip_std = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]
_load = dict(type='LoadOODImage', imdecode_backend='pillow')
_pack = dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))
_clip_processor = dict(
    pipeline=[
        _load,
        dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=224),
        _pack,
    ],
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=_clip_mean, std=_clip_std, to_rgb=True),
)
_align_processor = dict(
    pipeline=[
        _load,
        dict(type='Resize', scale=(346, 346), keep_ratio=False, backend='pillow', interpolation='bilinear'),
        dict(type='CenterCrop', crop_size=289),
        _pack,
    ],
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
)

_csp_224, _csp_289 = [
    dict(
        pipeline=[
            _load,
            dict(type='ResizeEdge', scale=size, edge='short', backend='pillow', interpolation='bilinear'),
            dict(type='CenterCrop', crop_size=size),
            _pack,
        ],
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=_clip_mean, std=_clip_std, to_rgb=True),
    ) for size in (224, 289)
]

hf_preprocessing = dict(
    align=dict(hf=_align_processor, csp=_csp_289),
    altclip=dict(hf=_clip_processor, csp=_csp_224),
    groupvit=dict(hf=_clip_processor, csp=_csp_224),
    clip=dict(hf=_clip_processor, csp=_csp_224),
)
del _clip_mean, _clip_std, _load, _pack, _clip_processor, _align_processor, _csp_224, _csp_289  # not config
