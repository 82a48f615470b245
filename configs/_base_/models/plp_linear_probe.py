# PLP model part (TMLR 2024, arXiv:2303.05828): a linear probe on the frozen open_clip tower's pre-projection
# features, trained on zero-shot pseudo-labels of the 5-prompt ensemble (docs/plp.md). Method configs set the tower
# (model.backbone.model_name / pretrained; the paper's tags are listed in docs/plp.md).
model = dict(
    type='LinearProbeClassifier',
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai', activation='quick_gelu',
                  precision='fp32'),
    # PLP's ImageNet names: first synonym per class, duplicates crane / maillot kept, so classes 517 and 639
    # receive no pseudo-label (reference parity). CLIP's curated names: class_names='txtfiles/imagenet_classes.txt'.
    class_names='plp_first_synonym',
    templates='plp5',  # the 5-prompt ensemble of the pseudo-labelling classifier
    train_labels='pseudo',
    # z-scored pre-projection features -> nn.Linear; OOD scores of its logits at T = 1 (the head's defaults): plp_energy
    # (primary) and plp_msp side by side, as which one fills the paper's rows is unverified.
    head=dict(type='LinearProbeHead'),
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    logit_scale=100.0,
    cache_dir=None,  # filled by tools/ (--cache-dir, $MMOOD_CACHE or ~/.cache/mmood)
)
