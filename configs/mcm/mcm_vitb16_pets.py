# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = Oxford-IIIT Pet test (37 classes) vs the MOS far-OOD four
# (iNaturalist, SUN, Places, Textures); MCM's fine-grained setting. Model and preprocessing as
# configs/mcm/mcm_vitb16.py (prompt "a photo of a {}", softmax of raw cosines at T = 1); only the benchmark
# (`oxford_pets_mos`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/oxford-iiit-pet/{annotations/test.txt,images/} (mmpretrain OxfordIIITPet, split test)
#   python tools/verify_data.py --benchmark oxford_pets_mos
#   python tools/test.py configs/mcm/mcm_vitb16_pets.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/oxford_pets_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='oxford_pets_mos'))
