# NegLabel (ICLR 2024), zero-shot CLIP ViT-B/16 (OpenAI): ID = ImageNet-100 val (MCM's 100 classes, CLIP names) vs the
# MOS far-OOD four (iNaturalist, SUN, Places, Textures); MCM's ImageNet-100 setting. Model and preprocessing as
# configs/neglabel/neglabel_vitb16.py (the reference's parameters); only the benchmark (`imagenet100`, docs/data.md)
# and the class names differ. Published numbers: not retrieved.
# Data: data/imagenet100/val/<wnid>/*.JPEG
#   python tools/verify_data.py --benchmark imagenet100
#   python tools/test.py configs/neglabel/neglabel_vitb16_in100.py
_base_ = ['./neglabel_vitb16.py']
model = dict(class_names='txtfiles/imagenet100_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='imagenet100'))
