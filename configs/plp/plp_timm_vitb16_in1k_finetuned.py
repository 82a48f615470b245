# PLP's fine-tuned ImageNet-1k baseline (TMLR 2024, baseline_fine_tuned_models.py): timm's ViT-B/16 AugReg2
# (ImageNet-21k pre-trained, ImageNet-1k fine-tuned) scored by its OWN 1000-way head, with no training:
# PretrainedHeadClassifier copies the head into the probe, so plp_energy / plp_msp are energy / MSP of the model's
# logits at T = 1 (as the script), and the post-hoc detectors read it through the probe view (docs/posthoc.md).
# ImageNet-1k vs iNaturalist / SUN / Places / Textures / NINCO / ImageNet-O; image-only (docs/backbones.md). The
# fitted detectors (ReAct, DICE, KLM, ViM, SHE, NNGuide, fDBD) read ImageNet-1k train features (extracted once).
# Weights: model.safetensors of https://huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k, read from the
# Hugging Face cache (fetched on a first run with network access), or a local copy:
#   --cfg-options model.backbone.checkpoint=checkpoints/vit_base_patch16_224.augreg2_in21k_ft_in1k.safetensors
#   python tools/test.py configs/plp/plp_timm_vitb16_in1k_finetuned.py      # no checkpoint: nothing is trained
_base_ = '../_base_/datasets/plp_imagenet_timm_baseline.py'  # + ../_base_/models/plp_timm_probe.py
model = dict(
    type='PretrainedHeadClassifier',
    backbone=dict(model_name='vit_base_patch16_224.augreg2_in21k_ft_in1k', keep_head=True),
    extra_heads=[
        dict(type='GENHead', logits='probe', prefix='plp_'),
        dict(type='KLMatchingHead', logits='probe', prefix='plp_'),
        dict(type='GradNormHead', view='probe', prefix='plp_'),
        dict(type='ReActHead', view='probe', prefix='plp_'),
        dict(type='ASHHead', view='probe', prefix='plp_'),
        dict(type='SCALEHead', view='probe', prefix='plp_'),
        dict(type='DICEHead', view='probe', prefix='plp_'),
        dict(type='ViMHead', view='probe', prefix='plp_'),
        dict(type='SHEHead', view='probe', prefix='plp_'),
        dict(type='NNGuideHead', view='probe', prefix='plp_'),
        dict(type='FDBDHead', view='probe', prefix='plp_'),
    ],
)
