# imagenet_mos_ood.py plus the ID-train set the fitted post-hoc detectors read (ReAct, DICE, ViM, SHE, NNGuide, fDBD,
# KL-Matching; docs/posthoc.md#fitting): ImageNet-1k train with the test pipeline, its features extracted once into
# the feature cache. Layout: data/imagenet/train/<wnid>/*.JPEG (+ data/imagenet/meta/train.txt, optional).
_base_ = ['./imagenet_mos_ood.py']

id_train_dataloader = dict(
    batch_size=256, num_workers='auto',
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='train', pipeline={{_base_.test_pipeline}}))
