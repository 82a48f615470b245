# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = CUB-200-2011 test (200 classes) vs the MOS far-OOD four
# (iNaturalist, SUN, Places, Textures); MCM's fine-grained setting. Model and preprocessing as
# configs/mcm/mcm_vitb16.py (prompt "a photo of a {}", softmax of raw cosines at T = 1); only the benchmark
# (`cub200_mos`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/CUB_200_2011/{images.txt,image_class_labels.txt,train_test_split.txt,images/} (mmpretrain CUB, split test)
#   python tools/verify_data.py --benchmark cub200_mos
#   python tools/test.py configs/mcm/mcm_vitb16_cub200.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/cub200_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='cub200_mos'))
