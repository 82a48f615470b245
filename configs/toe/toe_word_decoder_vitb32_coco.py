# TOE's word decoder (NeurIPS 2023, arXiv:2310.16492, Sec. 3.2; the decoder of ZOC, AAAI 2022): a BertGenerationDecoder
# (google/bert_for_seq_generation_L-24_bbc_encoder, + cross-attention) conditioned on the frozen CLIP image embedding
# ([x, x]: 512 -> 1024), trained on MS-COCO 2017 captions with the language-model loss. See docs/toe.md, "Word decoder".
# Data: the first 5 captions of every train2017 image as a path<TAB>caption file (ZOC's pairing):
#   python tools/dataset_converters/coco_captions_to_tsv.py data/coco/annotations/captions_train2017.json \
#       data/coco/train2017 data/coco/captions_train2017.tsv
#   python tools/train.py configs/toe/toe_word_decoder_vitb32_coco.py
# then name work_dirs/toe_word_decoder_vitb32_coco/epoch_<N>.pth as model.outliers.decoder.checkpoint of a word config
# (configs/toe/toe_word_decoder_vitb16_in1k.py). The reference's released decoder (model_epoch100.pt, Google Drive):
#   python tools/model_converters/toe_decoder_to_mmood.py model_epoch100.pt checkpoints/toe_word_decoder.pth
# Recipe (ZOC's train_decoder.py): AdamW lr 1e-5, weight decay 0, eps 1e-6, no scheduler, no clipping, fp32, batch 128,
# captions "<s> caption </s>" of at most 77 tokens. Departures (docs/toe.md): the CLIP features stay float (ZOC casts
# them to integers) and the images get CLIP's own preprocessing (ZOC: CIFAR-10 mean/std); epochs are the config's
# (ZOC's script runs 1 epoch by default, its comment says 25; TOE's file name says 100).
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='TOEWordDecoder',
    # the conditioning CLIP, frozen (ZOC: OpenAI ViT-B/32); TOE's generation reads its own training CLIP's embedding
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-32', pretrained='openai', activation='quick_gelu',
                  precision='fp32'),
    decoder=dict(pretrained='google/bert_for_seq_generation_L-24_bbc_encoder'),
    tokenizer='google/bert_for_seq_generation_L-24_bbc_encoder',  # SentencePiece: needs the sentencepiece package
    max_length=77,
)

decoder_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', algorithm_keys=('text', )),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageCaptionDataset', tsv='data/coco/captions_train2017.tsv', pipeline=decoder_pipeline),
)
train_cfg = dict(by_epoch=True, max_epochs=100)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0))
param_scheduler = []
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
custom_hooks = []  # not an OOD model: no OOD hooks
