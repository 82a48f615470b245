# Model part: CSP (NeurIPS 2024, arXiv 2410.08611) on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# NegLabel's score on a larger pool: WordNet nouns plus "conjugated" labels (each adjective with one of 14 superclass
# words, drawn with seed 0), nouns and ID names under CSP's 8 templates, conjugated labels under its 4, each
# ensemble the mean of the *raw* text embeddings; a candidate whose highest cosine to an ID prototype is above 0.95 is
# ranked last; 15 % of each part kept (docs/csp.md).
_base_ = './clip_vitb16.py'

model = dict(
    templates='csp_noun',  # the ID prototypes: CSP's 8 noun templates ...
    ensemble='raw_mean',  # ... averaged as raw embeddings (CSP-3)
    head=dict(
        _delete_=True,
        type='CSPHead',
        corpus_dir='txtfiles/neglabel_corpus',  # mmood's WordNet 3.0 corpus; NegLabel's txtfiles/ = CSP's own pool
        noun_prompt='csp_noun',
        adj_prompt='csp_adj',
        ensemble='raw_mean',
        exclude_files=('noun.person.txt', 'noun.quantity.txt', 'noun.group.txt', 'adj.pert.txt'),
        replace_underscores=True,  # WordNet's "ice_cream" read as "ice cream" (CSP's pool loop)
        conjugation='random',  # one superclass per adjective (CSP-2); 'all' = every one of the 14
        conjugation_seed=0,
        percentile=0.95,
        max_sim_cutoff=0.95,  # CSP-5
        neg_ratio=0.15,
        exclude_id_names=False,  # reference (CSP-9); the cut-off removes most ID names
        tau=0.01,
        ngroup=100,
        shuffle=True,
        seed=0,
        drop_tail_before_shuffle=True,
    ),
)
