# CSP on the offline digits benchmark: the tiny CLIP of configs/clip/clip_tiny_digits.py, zero-shot (see
# configs/neglabel/neglabel_tiny_digits.py and docs/demo.md). The pool is the shipped WordNet corpus with CSP's
# exclusions and
# conjugated adjectives, the ensembles and the cut-off as configs/csp/csp_vitb16.py (CSPHead's defaults). The ID
# prototypes keep the demo's caption templates (the tiny tower never saw CSP's), combined as raw means like CSP's; few
# groups at this scale.
_base_ = '../mcm/mcm_tiny_digits.py'

model = dict(
    ensemble='raw_mean',
    head=dict(
        _delete_=True,
        type='CSPHead',
        mining=dict(exclude_id_names=True),
        grouping=dict(ngroup=10),
    ),
)
