# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = Food-101 test (101 classes) vs the MOS far-OOD four
# (iNaturalist, SUN, Places, Textures); MCM's fine-grained setting. Model and preprocessing as
# configs/mcm/mcm_vitb16.py (prompt "a photo of a {}", softmax of raw cosines at T = 1); only the benchmark
# (`food101_mos`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/food-101/{meta/test.txt,images/<class>/} (mmpretrain Food101, split test)
#   python tools/verify_data.py --benchmark food101_mos
#   python tools/test.py configs/mcm/mcm_vitb16_food101.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/food101_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='food101_mos'))
