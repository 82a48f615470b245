# TOE (NeurIPS 2023), caption-level textual outliers, frozen open_clip ViT-B-16 / openai, ImageNet-1k vs
# iNaturalist / SUN / Places / Textures. See docs/toe.md.
# Captions: one per ID image (TOE used BLIP-2 OPT-2.7b; captioning is not part of mmood), one per line in the file
# below (or the reference's ImageNet_outlier_caption.npy with model.outliers.allow_pickle=True, a trusted file only).
# Filter (the reference's caption_select.py, TOE-9 fixed): captions and <= 250 ID-train images per class embedded with
# CLIP ViT-B/32, class-conditional Mahalanobis score with the pooled covariance, the farthest 15 % kept. With the
# reference's index file instead: --cfg-options model.outliers.index_file=data/toe/ImageNet_outlier_caption_index.npy
#   python tools/train.py configs/toe/toe_caption_vitb16_in1k.py
#   python tools/test.py configs/toe/toe_caption_vitb16_in1k.py work_dirs/toe_caption_vitb16_in1k/iter_<N>.pth
_base_ = ['../_base_/models/toe_linear_head.py', '../_base_/datasets/toe_imagenet.py']
model = dict(outliers=dict(
    level='caption',
    source='data/toe/imagenet_captions.txt',
    keep=0.15,
    per_class=250,
    filter_backbone=dict(_delete_=True, type='OpenCLIPBackbone', model_name='ViT-B-32', pretrained='openai',
                         activation='quick_gelu', precision='fp32')))
