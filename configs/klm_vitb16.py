# KL-Matching (Hendrycks et al., ICML 2022; docs/klm.md) on zero-shot CLIP ViT-B/16 (MCM's model: prompt "a photo of
# a {}", logits 100 · cos), ImageNet-1k vs iNaturalist / SUN / Places / Textures. The class templates d_k are fitted
# on the zero-shot logits of the ImageNet-1k train images (OpenOOD v1.5 fits them on ID-val: docs/klm.md), extracted
# once into the feature cache with the test pipeline.
#   python tools/test.py configs/klm_vitb16.py --save-features
#   python tools/score.py configs/klm_vitb16.py --methods config gen    # re-scored from the cached features
_base_ = ['./mcm_vitb16.py']

model = dict(head=dict(_delete_=True, type='KLMatchingHead'))
# ID-train = ImageNet-1k train (data/imagenet/train/<wnid>/*.JPEG + data/imagenet/meta/train.txt), the test pipeline
id_train_dataloader = dict(
    batch_size=256, num_workers='auto',
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='train', pipeline={{_base_.test_pipeline}}))
