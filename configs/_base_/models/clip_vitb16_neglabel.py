# Model part: NegLabel (ICLR 2024) head on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# Parameters as the reference (XueJiang16/NegLabel's custom_config/clip.py): prompts "the nice {}" / "This is a {}
# photo", 0.95 quantile, 15 % of nouns and adjectives, tau = 0.01, 100 groups.
_base_ = './clip_vitb16.py'

model = dict(
    templates='neglabel',
    head=dict(
        _delete_=True,
        type='NegLabelHead',
        corpus_dir='txtfiles/neglabel_corpus',
        noun_prompt='the nice {}',
        adj_prompt='This is a {} photo',
        percentile=0.95,
        neg_ratio=0.15,
        exclude_id_names=False,  # reference behaviour (NL-6); True is the recommended improvement
        selected_file=None,  # NegLabel's selected_neg_labels_in1k_10k.txt here = exact parity, no mining
        tau=0.01,
        ngroup=100,
        shuffle=True,
        seed=0,
        drop_tail_before_shuffle=True,
    ),
)
