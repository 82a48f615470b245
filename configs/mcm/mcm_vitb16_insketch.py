# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = ImageNet-Sketch (1,000 classes) vs the MOS far-OOD four
# (iNaturalist, SUN, Places, Textures); NegLabel's robustness-to-domain-shift experiment. Model and preprocessing as
# configs/mcm/mcm_vitb16.py (prompt "a photo of a {}", softmax of raw cosines at T = 1); only the benchmark
# (`imagenet_sketch_mos`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/imagenet_sketch/sketch/<wnid>/*.JPEG (1,000 wnid folders)
#   python tools/verify_data.py --benchmark imagenet_sketch_mos
#   python tools/test.py configs/mcm/mcm_vitb16_insketch.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/imagenet_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='imagenet_sketch_mos'))
