# TOE (NeurIPS 2023), word-level textual outliers, frozen open_clip ViT-B-16 / openai, ImageNet-1k vs
# iNaturalist / SUN / Places / Textures. See docs/toe.md.
# Word source: 'wordnet_window', mmood's offline SUBSTITUTE for TOE's decoder (not part of the paper): nouns of the
# shipped WordNet corpus (txtfiles/neglabel_corpus) whose 0.95-quantile similarity to the ID prompts lies between the
# 85th and 95th percentile of all candidates (near the ID classes, not nearest). The reference's own list:
# configs/toe/toe_word_vitb16_in1k.py; the decoder run by mmood: configs/toe/toe_word_decoder_vitb16_in1k.py.
# debug_expansion=True: the 5N expansion of the reference's quick start, applied to the substitute words.
#   python tools/train.py configs/toe/toe_word_wordnet_vitb16_in1k.py
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/datasets/toe_imagenet.py']
model = dict(outliers=dict(level='word', word_source='wordnet_window', corpus='txtfiles/neglabel_corpus',
                           quantile=0.95, window=(85.0, 95.0), debug_expansion=True))
