# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = ImageNet-10 val (MCM's 10 classes, CLIP names) vs
# ImageNet-20 val (near); MCM's ImageNet-10 setting. Model and preprocessing as configs/mcm/mcm_vitb16.py (prompt "a
# photo of a {}", softmax of raw cosines at T = 1); only the benchmark (`imagenet10`, docs/data.md) and the class names
# differ. Published numbers: not retrieved.
# Data: data/imagenet10/val/<wnid>/*.JPEG and data/imagenet20/val/<wnid>/*.JPEG
#   python tools/verify_data.py --benchmark imagenet10
#   python tools/test.py configs/mcm/mcm_vitb16_in10.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/imagenet10_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='imagenet10'))
