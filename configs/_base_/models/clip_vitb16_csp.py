# Model part: CSP (NeurIPS 2024, arXiv 2410.08611) on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# NegLabel's score on a larger pool: WordNet nouns plus "conjugated" labels (each adjective with one of 14 superclass
# words, drawn with seed 0), nouns and ID names under CSP's 8 templates, conjugated labels under its 4, each
# ensemble the mean of the *raw* text embeddings; a candidate whose highest cosine to an ID prototype is above 0.95 is
# ranked last; 15 % of each part kept (docs/csp.md). All of these are CSPHead's defaults (CSP's
# custom_config/clip-ViT-B16.py); the pool is mmood's WordNet 3.0 corpus (NegLabel's txtfiles/ = CSP's own pool).
_base_ = './clip_vitb16.py'

model = dict(
    templates='csp_noun',  # the ID prototypes: CSP's 8 noun templates ...
    ensemble='raw_mean',  # ... averaged as raw embeddings (CSP-3)
    head=dict(_delete_=True, type='CSPHead'),
)
