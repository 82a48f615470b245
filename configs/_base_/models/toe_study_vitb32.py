# TOE's real/virtual x image/text study (NeurIPS 2023, arXiv:2310.16492; docs/toe.md, "The real/virtual study"): the
# model part every cell shares. A linear head on the frozen OpenAI CLIP ViT-B/32's RAW projected image features
# (cached pre_proj rows x the projection), energy score, Adam lr 1e-3 without weight decay, ID batch 32, seed 42.
# The cell bases (configs/_base_/models/toe_study_{real_image,real_text,virtual_image,virtual_text}.py) set the cell,
# its epochs and its learning-rate schedule.
model = dict(
    type='TOEStudyClassifier',
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-32', pretrained='openai', activation='quick_gelu',
                  precision='fp32'),
    class_names='txtfiles/imagenet10_classes.txt',
    head=dict(type='LinearProbeHead', project=True, zscore=False, scores=('energy', 'msp', 'maxlogit'), prefix='toe_'),
    loss=dict(type='OutlierExposureLoss', weight=0.5),  # real cells: CE + 0.5 x OE
    noise_variance=0.016,  # real/text: CapDec noise on the unit text embeddings
    outlier_batch_size=32,
    id_batch_size=32,  # = train_dataloader.batch_size: the epoch length of the real/image and virtual cells
    seed=42,
    cache_dir=None,
)
