# TOE (NeurIPS 2023), word-level textual outliers, frozen open_clip ViT-B-16 / openai: ImageNet-20 (ID) vs
# ImageNet-10 val (hard OOD; benchmark `imagenet20`, TOE's pairing). The reference ships no outlier list for this
# pair: the outliers are nouns of the shipped WordNet corpus (word_source='wordnet_window', mmood's SUBSTITUTE for TOE's
# decoder, not part of the paper) near the 20 ID classes (docs/toe.md), expanded as the
# reference's quick start expands its word list (debug_expansion: + each prompt's last word in 4 templates, 5N).
# Data: data/imagenet20/{train,val}/<wnid>/*.JPEG and data/imagenet10/val/<wnid>/*.JPEG (MCM's subsets).
#   python tools/train.py configs/toe/toe_word_vitb16_in20.py
#   python tools/test.py configs/toe/toe_word_vitb16_in20.py work_dirs/toe_word_vitb16_in20/iter_<N>.pth
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/datasets/toe_imagenet.py']
model = dict(class_names='txtfiles/imagenet20_classes.txt',
             outliers=dict(level='word', word_source='wordnet_window', source=None, debug_expansion=True))
imagenet20 = dict(_delete_=True, type='CustomDataset', data_root='data/imagenet20/train',  # <wnid>/ folders, sorted
                  pipeline={{_base_.toe_pipeline}})
train_dataloader = dict(dataset=imagenet20)
id_train_dataloader = dict(dataset=imagenet20)
test_dataloader = dict(dataset=dict(benchmark='imagenet20'))
