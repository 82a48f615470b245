# TOE (NeurIPS 2023), description-level textual outliers, frozen open_clip ViT-B-16 / openai, ImageNet-1k vs
# iNaturalist / SUN / Places / Textures. See docs/toe.md.
# The descriptor JSON (class -> GPT-3 descriptions) is classify_by_description's `descriptors_imagenet.json`
# (Menon & Vondrick, github.com/sachit-menon/classify_by_description_release); download it to the path below.
#   python tools/train.py configs/toe/toe_description_vitb16_in1k.py   # extracts missing features, writes the outliers
#   python tools/test.py configs/toe/toe_description_vitb16_in1k.py work_dirs/toe_description_vitb16_in1k/iter_90700.pth
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/datasets/toe_imagenet.py']
model = dict(outliers=dict(
    level='description',
    source='data/toe/descriptors_imagenet.json',
    # False = the reference (TOE-8): its character-set strip and no deduplication, 29,000 strings (907 iterations per
    # epoch); True removes "This is a photo of " as a prefix and drops duplicates
    fix_strip=False))
