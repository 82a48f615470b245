# NegRefine's score on the offline digits benchmark: the tiny CLIP of configs/clip/clip_tiny_digits.py, zero-shot (see
# configs/csp/csp_tiny_digits.py and docs/demo.md). The published negatives are ImageNet's, so this is NegRefine's
# LLM-free fallback: CSP negatives mined from the shipped corpus as NegRefine's create_initial_negative_labels mines
# them (max-cosine quantile; nouns equal to an ID name skipped, case-sensitively) and cleaned as its _clean_words
# cleans them (NegRefineHead's defaults), the multi-matching score on the demo's class names; few groups here.
_base_ = '../csp/csp_tiny_digits.py'

model = dict(
    head=dict(
        _delete_=True,
        type='NegRefineHead',
        grouping=dict(ngroup=10),
    ),
)
