# NegLabel on the offline digits benchmark: the tiny CLIP trained by configs/clip/clip_tiny_digits.py, zero-shot,
# negatives mined from the shipped WordNet corpus (txtfiles/neglabel_corpus, ~70k words; the head's default) with
# the tiny text tower. Same data and weights as configs/mcm/mcm_tiny_digits.py (see there and docs/demo.md).
# The tiny tower never saw most corpus words (their token vectors are random), so the mined negatives are
# simply the prompts it places farthest from "zero".."four"; grouping brings nothing at this scale, so a few
# groups suffice.
_base_ = '../mcm/mcm_tiny_digits.py'

model = dict(
    head=dict(
        _delete_=True,
        type='NegLabelHead',
        mining=dict(exclude_id_names=True),
        grouping=dict(ngroup=10),
    ),
)
