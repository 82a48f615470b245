# NegLabel (ICLR 2024), zero-shot CLIP ViT-B/16 (OpenAI): ID = Stanford Cars test (196 classes) vs the MOS far-OOD four
# (iNaturalist, SUN, Places, Textures); MCM's fine-grained setting. Model and preprocessing as
# configs/neglabel/neglabel_vitb16.py (the reference's parameters); only the benchmark (`stanford_cars_mos`,
# docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/stanford_cars/ as mmpretrain StanfordCars reads it, split test (cars_annos.mat + car_ims/, or
#   devkit/cars_test_annos_withlabels.mat + cars_test/)
#   python tools/verify_data.py --benchmark stanford_cars_mos
#   python tools/test.py configs/neglabel/neglabel_vitb16_cars.py
_base_ = ['./neglabel_vitb16.py']
model = dict(class_names='txtfiles/stanford_cars_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='stanford_cars_mos'))
