# TOE on the offline digits demo: a linear head on the tiny CLIP trained by configs/clip/clip_tiny_digits.py (frozen),
# with word-level textual outliers, detects digits 5-9 (near) and noise (far). The model, loss, scores and
# checkpoints are those of configs/toe/toe_word_vitb16_in1k.py; only the tower, the data and the schedule are small.
# Outliers: nouns of the shipped WordNet corpus in the 85-95th percentile window of similarity to the ID prompts --
# the offline path every user has. (The digits caption vocabulary would be smaller, but its only non-ID words are the
# other digits' names, i.e. the OOD test classes: exposing those would be leakage, TOE-11.)
# Weights: the exported digits CLIP (docs/demo.md):
#   python tools/train.py configs/clip/clip_tiny_digits.py
#   python tools/export_clip_weights.py work_dirs/clip_tiny_digits checkpoints/clip_tiny_digits.pth
#   python tools/train.py configs/toe/toe_word_tiny_digits.py
#   python tools/test.py configs/toe/toe_word_tiny_digits.py work_dirs/toe_word_tiny_digits/iter_<N>.pth
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/schedules/toe.py', '../_base_/datasets/digits_ood.py']
tiny_model_cfg = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2),
)
model = dict(
    backbone=dict(_delete_=True, type='OpenCLIPBackbone', model_name='mmood-tiny-vit',
                  pretrained='checkpoints/clip_tiny_digits.pth', model_cfg=tiny_model_cfg),
    class_names=['zero', 'one', 'two', 'three', 'four'],
    # the caption phrases the tiny model was trained on: the ID prompts the word window compares nouns with
    templates=['a photo of the digit {}', 'the number {}', 'a handwritten {}'],
    # word_source: the WordNet window, mmood's substitute for TOE's decoder
    outliers=dict(level='word', word_source='wordnet_window', source=None, corpus='txtfiles/neglabel_corpus',
                  window=(85.0, 95.0)),
)
digits_train = dict(type='DigitsCaptionDataset', digits=(0, 1, 2, 3, 4), split='train', split_seed=0, test_size=0.3,
                    image_size=32, pipeline=[dict(type='PackInputs')])
train_dataloader = dict(batch_size=32, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=digits_train)
id_train_dataloader = dict(batch_size=128, num_workers=0, dataset=digits_train)
# a few epochs over the outliers (each ~190 iterations): the head is 32 x 5 weights
train_cfg = dict(epochs=3, extraction=dict(batch_size=128))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=10000))
# one intra-op thread: the trained weights, and so the recorded numbers, do not depend on the core count
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='IntraOpThreadsHook', threads=1)]
