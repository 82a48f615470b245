# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 loaded through Hugging Face transformers (CLIPModel) instead of open_clip,
# ImageNet-1k vs iNaturalist / SUN / Places / Textures. Everything else is configs/mcm/mcm_vitb16.py: prompt "a photo of
# a {}", softmax of raw cosines at T = 1, and MCM's preprocessing (bilinear shortest side 224, centre crop 224, CLIP's
# mean / std), so both runs see the same pixels and the same weights.
# Weights: the Hugging Face repository openai/clip-vit-base-patch16 (config.json, model.safetensors or
# pytorch_model.bin, tokenizer.json / vocab.json / merges.txt / tokenizer_config.json / special_tokens_map.json,
# preprocessor_config.json), from the Hugging Face cache or a local folder:
# --cfg-options model.backbone.model_id=/path/to/folder. The same files converted by
# tools/model_converters/hf_clip_to_open_clip.py run configs/mcm/mcm_vitb16.py with
# model.backbone.pretrained=<converted file>.
# CLIP's own HF processor resizes bicubic (configs/_base_/hf_preprocessing.py, preset `hf`); docs/backbones.md.
_base_ = [
    '../_base_/models/clip_vitb16_mcm.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(_delete_=True, type='HFVLMBackbone', model_id='openai/clip-vit-base-patch16', precision='fp32'))
