# PLP's non-CLIP baselines (Adaloglou et al., TMLR 2024, arXiv:2303.05828): a supervised linear probe, trained on the
# TRUE ImageNet-1k labels, on the frozen pre-logits features of an image-only timm model (TimmBackbone: no text
# tower, so no pseudo-labels and no zero-shot scores). Method configs set model.backbone.model_name (and checkpoint /
# checkpoint_key for the self-supervised releases); docs/backbones.md lists the models and weights files.
_base_ = './plp_linear_probe.py'
model = dict(
    backbone=dict(_delete_=True, type='TimmBackbone'),
    train_labels='true',  # the dataset's labels: a supervised probe (PLP's linear_probing.py without pseudo-labels)
)
