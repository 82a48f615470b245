# TOE (NeurIPS 2023), word-level textual outliers, frozen open_clip ViT-B-16 / openai, ImageNet-1k vs
# iNaturalist / SUN / Places / Textures. See docs/toe.md.
# Offline by default: nouns of the shipped WordNet corpus (txtfiles/neglabel_corpus) whose 0.95-quantile similarity
# to the ID prompts lies between the 85th and 95th percentile of all candidates (near the ID classes, not nearest).
# The reference's own list (decoded by its BERT decoder from ImageNet *val* images, TOE-7; Google Drive only):
#   --cfg-options model.outliers.source=data/toe/ImageNet_outlier_word.npy model.outliers.allow_pickle=True
# (an object .npy needs pickle: only for a file you trust; it is converted to the plain-text list once).
# debug_expansion=True: the list grows as in the reference's quick start (main.py --debug True with the released list):
# after the N prompts, each prompt's last word in "This is a blurry photo of {}", "... of many {}", "... of the large
# {}", "... of the small {}" -- 5N strings, no deduplication (docs/toe.md).
#   python tools/train.py configs/toe/toe_word_vitb16_in1k.py
#   python tools/test.py configs/toe/toe_word_vitb16_in1k.py work_dirs/toe_word_vitb16_in1k/iter_<N>.pth
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/datasets/toe_imagenet.py']
model = dict(outliers=dict(level='word', source=None, corpus='txtfiles/neglabel_corpus', quantile=0.95,
                           window=(85.0, 95.0), debug_expansion=True))
