# NegLabel (ICLR 2024), zero-shot GroupViT (Xu et al., CVPR 2022; the GCC + YFCC model, 256-d joint space) through
# Hugging Face transformers, ImageNet-1k vs iNaturalist / SUN / Places / Textures. The head, prompts and mining are
# those of configs/neglabel/neglabel_vitb16.py (the reference's); only the backbone and the preprocessing differ.
# Weights: the Hugging Face repository nvidia/groupvit-gcc-yfcc (config.json, pytorch_model.bin, tokenizer.json /
# vocab.json / merges.txt / tokenizer_config.json / special_tokens_map.json, preprocessor_config.json), from the
# Hugging Face cache or a local folder: --cfg-options model.backbone.model_id=/path/to/folder.
# GroupViT's image projection is an MLP: `pre_proj` is the projected embedding (no linear projection for the
# detectors that shape features before it).
# Preprocessing: GroupViT's own processor (preset `hf`: shortest side 224 bicubic, centre crop 224, CLIP's mean / std).
# CSP's NegLabel fork used a bilinear resize instead: replace `.hf.` by `.csp.` in the two lines below
# (configs/_base_/hf_preprocessing.py). docs/backbones.md.
_base_ = [
    '../_base_/models/clip_vitb16_neglabel.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py', '../_base_/hf_preprocessing.py'
]
model = dict(
    backbone=dict(_delete_=True, type='HFVLMBackbone', model_id='nvidia/groupvit-gcc-yfcc', precision='fp32'),
    data_preprocessor={{_base_.hf_preprocessing.groupvit.hf.data_preprocessor}},
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.hf_preprocessing.groupvit.hf.pipeline}}))
