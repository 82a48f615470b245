# TOE (NeurIPS 2023), word-level textual outliers, frozen open_clip ViT-B-16 / openai, ImageNet-1k vs
# iNaturalist / SUN / Places / Textures. See docs/toe.md. The reproduction config: the reference's own word list.
# Word source: 'list' = the reference's released ImageNet_outlier_word.npy (decoded by its BERT decoder; Google Drive
# only), an object .npy: allow_pickle=True reads it with pickle, so use only the file you downloaded from the
# authors' link (check its SHA-256, printed in the log and written to the list's header); it is converted once to the
# plain-text list. Other word sources: configs/toe/toe_word_decoder_vitb16_in1k.py (the decoder, run by mmood) and
# configs/toe/toe_word_wordnet_vitb16_in1k.py (the WordNet window, mmood's offline substitute for the decoder).
# debug_expansion=True: the list grows as in the reference's quick start (main.py --debug True with the released list),
# which is how its published word-level runs read the file: after the N prompts, each prompt's last word in
# "This is a blurry photo of {}", "... of many {}", "... of the large {}", "... of the small {}" -- 5N strings, no
# deduplication (docs/toe.md).
#   python tools/train.py configs/toe/toe_word_vitb16_in1k.py
#   python tools/test.py configs/toe/toe_word_vitb16_in1k.py work_dirs/toe_word_vitb16_in1k/iter_<N>.pth
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/datasets/toe_imagenet.py']
model = dict(outliers=dict(level='word', word_source='list', source='data/toe/ImageNet_outlier_word.npy',
                           allow_pickle=True, debug_expansion=True))
