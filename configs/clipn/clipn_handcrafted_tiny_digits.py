# CLIPN's hand-crafted variant on the offline digits demo: the tiny CLIP of configs/clip/clip_tiny_digits.py (frozen)
# gets a "no" tower without prompt offsets, trained on the digits captions put into hand-written yes/no template
# pairs, then detects digits 5-9 (near) and noise (far) with ATD / CTW. Everything but the pairs is
# configs/clipn/clipn_tiny_digits.py; the model is configs/clipn/clipn_handcrafted_vitb32_cc3m.py's (docs/clipn.md).
#   python tools/train.py configs/clipn/clipn_handcrafted_tiny_digits.py
#   python tools/test.py configs/clipn/clipn_handcrafted_tiny_digits.py \
#       work_dirs/clipn_handcrafted_tiny_digits/epoch_6.pth
_base_ = ['./clipn_tiny_digits.py']

# the caption phrases the tiny model was trained on (the ID prompts of clipn_tiny_digits.py) and their "no" twins,
# written by CLIPN's rule (the article replaced by "no", or a "not" before the phrase)
yes_templates = ['a photo of the digit {}', 'the number {}', 'a handwritten {}']
no_templates = ['a photo of no digit {}', 'not the number {}', 'not a handwritten {}']
model = dict(
    templates=yes_templates,
    no_prompt_mode='handcrafted',
    prompt_pairs=(yes_templates, no_templates),
)
