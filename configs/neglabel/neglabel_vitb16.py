# NegLabel (ICLR 2024), zero-shot CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures.
# Parameters as the reference (XueJiang16/NegLabel's custom_config/clip.py): prompts "the nice {}" / "This is a {}
# photo", 0.95 quantile, 15 % of nouns and adjectives, tau = 0.01, 100 groups.
_base_ = [
    '../_base_/models/clip_vitb16_neglabel.py', '../_base_/datasets/imagenet_mos_ood.py',
    '../_base_/default_runtime.py'
]
