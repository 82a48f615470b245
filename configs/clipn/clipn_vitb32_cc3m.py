# CLIPN (ICCV 2023) on a frozen LAION CLIP ViT-B/32 (the paper's second backbone): a "no" text tower trained on CC3M
# image-caption pairs, ATD (primary) and CTW on ImageNet-1k vs iNaturalist / SUN / Places / Textures. Recipe, data,
# schedule and preprocessing (224) as configs/clipn/clipn_vitb16_cc3m.py (read its header for GPUs and batch); see
# docs/clipn.md.
# Weights: open_clip ViT-B-32 / tag 'laion2b_s34b_b79k' = laion/CLIP-ViT-B-32-laion2B-s34B-b79K
# (open_clip_pytorch_model.bin or open_clip_model.safetensors); GELU: the tag's open_clip pretrained config has no
# quick_gelu flag (docs/weights.md).
#   bash tools/dist_train.sh configs/clipn/clipn_vitb32_cc3m.py 4                # the reference: 4 GPUs x 512
#   python tools/test.py configs/clipn/clipn_vitb32_cc3m.py work_dirs/clipn_vitb32_cc3m/epoch_10.pth
_base_ = ['./clipn_vitb16_cc3m.py']
model = dict(backbone=dict(model_name='ViT-B-32', pretrained='laion2b_s34b_b79k', activation='gelu'))
