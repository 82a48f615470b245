# NegLabel (ICLR 2024), zero-shot CLIP ViT-B/16 (OpenAI): ID = ImageNet-R (its 200 classes, their CLIP names) vs the
# MOS far-OOD four (iNaturalist, SUN, Places, Textures); NegLabel's robustness-to-domain-shift experiment. Model and
# preprocessing as configs/neglabel/neglabel_vitb16.py (the reference's parameters); only the benchmark
# (`imagenet_r_mos`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/imagenet-r/<wnid>/*.jpg (the 200 wnids of txtfiles/imagenet_r_wnids.txt)
#   python tools/verify_data.py --benchmark imagenet_r_mos
#   python tools/test.py configs/neglabel/neglabel_vitb16_inr.py
_base_ = ['./neglabel_vitb16.py']
model = dict(class_names='txtfiles/imagenet_r_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='imagenet_r_mos'))
