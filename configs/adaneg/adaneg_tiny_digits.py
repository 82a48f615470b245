# AdaNeg on the offline digits benchmark: the tiny CLIP of configs/clip/clip_tiny_digits.py, zero-shot (see
# configs/neglabel/neglabel_tiny_digits.py and docs/demo.md). Negatives mined from the shipped corpus with AdaNeg's
# rules,
# scaled to the tiny task (500 negatives, 5 groups); the demo's caption templates for the ID prototypes; the memory
# and stream rule of configs/adaneg/adaneg_vitb16.py with streams of 64 images (the test split has ~1k images).
_base_ = '../mcm/mcm_tiny_digits.py'

model = dict(
    head=dict(
        _delete_=True,
        type='AdaNegHead',
        mining=dict(num_neg=500),
        stream=dict(batch_size=64),
    ),
)
