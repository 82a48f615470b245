# NegLabel (ICLR 2024), zero-shot ALIGN (Jia et al., ICML 2021; EfficientNet-B7 image tower, BERT-base text tower,
# 640-d joint space) through Hugging Face transformers, ImageNet-1k vs iNaturalist / SUN / Places / Textures. The head,
# prompts and mining are those of configs/neglabel/neglabel_vitb16.py (the reference's); only the backbone and the
# preprocessing differ.
# Weights: the Hugging Face repository kakaobrain/align-base (config.json, pytorch_model.bin or model.safetensors,
# tokenizer.json / tokenizer_config.json / special_tokens_map.json / vocab.txt, preprocessor_config.json), from the
# Hugging Face cache or a local folder: --cfg-options model.backbone.model_id=/path/to/folder.
# Preprocessing: ALIGN's own processor (preset `hf`: 346 x 346 bilinear squash, centre crop 289, [-1, 1] scaling).
# CSP's NegLabel fork fed ALIGN a bilinear shortest-side resize to 289, centre crop 289 and CLIP's mean / std: replace
# `.hf.` by `.csp.` in the two lines below (configs/_base_/hf_preprocessing.py). docs/backbones.md.
_base_ = [
    '../_base_/models/clip_vitb16_neglabel.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py', '../_base_/hf_preprocessing.py'
]
model = dict(
    backbone=dict(_delete_=True, type='HFVLMBackbone', model_id='kakaobrain/align-base', precision='fp32'),
    data_preprocessor={{_base_.hf_preprocessing.align.hf.data_preprocessor}},
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.hf_preprocessing.align.hf.pipeline}}))
