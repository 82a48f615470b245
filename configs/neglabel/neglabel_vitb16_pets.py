# NegLabel (ICLR 2024), zero-shot CLIP ViT-B/16 (OpenAI): ID = Oxford-IIIT Pet test (37 classes) vs the MOS far-OOD
# four (iNaturalist, SUN, Places, Textures); MCM's fine-grained setting. Model and preprocessing as
# configs/neglabel/neglabel_vitb16.py (the reference's parameters); only the benchmark (`oxford_pets_mos`,
# docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/oxford-iiit-pet/{annotations/test.txt,images/} (mmpretrain OxfordIIITPet, split test)
#   python tools/verify_data.py --benchmark oxford_pets_mos
#   python tools/test.py configs/neglabel/neglabel_vitb16_pets.py
_base_ = ['./neglabel_vitb16.py']
model = dict(class_names='txtfiles/oxford_pets_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='oxford_pets_mos'))
