# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = ImageNet-100 val (MCM's 100 classes, CLIP names) vs the
# MOS far-OOD four (iNaturalist, SUN, Places, Textures); MCM's ImageNet-100 setting. Model and preprocessing as
# configs/mcm/mcm_vitb16.py (prompt "a photo of a {}", softmax of raw cosines at T = 1); only the benchmark
# (`imagenet100`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/imagenet100/val/<wnid>/*.JPEG
#   python tools/verify_data.py --benchmark imagenet100
#   python tools/test.py configs/mcm/mcm_vitb16_in100.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/imagenet100_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='imagenet100'))
