# NegRefine (ICCV 2025, arXiv 2507.09795; code ah-ansari/NegRefine @72e4b82, MIT), zero-shot CLIP ViT-B/16,
# ImageNet-1k val vs the OpenOOD v1.5 ImageNet-1k OOD sets plus NINCO's "Clean" subsamples (benchmark
# `imagenet_negrefine`). Score: S = S_nl + 2 * S_mm (docs: mmood/models/heads/negrefine_head.py, docs/negrefine.md):
# S_nl = NegLabel's grouped score on CSP-style embeddings (100 groups, tau 0.01) of NegRefine's published,
# LLM-filtered negatives (txtfiles/negrefine/, 4,998 nouns + 1,372 conjugated labels; the LLM filter itself is not
# part of mmood); S_mm = max over the image's top-5 ID x top-5 negative labels of sigmoid(c - v), c the logit of
# the text "<ID label> and <negative>", v the negative's own logit. Scores: negrefine, negrefine_nl, negrefine_mm.
# Cost: the composites depend on the image, so the text tower runs at score time: 25 texts x 8 templates = 200
# text encodings per image before caching (an in-memory LRU and the cache store keep each text to one encoding;
# re-scoring the same batches with tools/score.py encodes nothing). Full runs need a GPU; on CPU only the tiny
# tests are practical. LLM-free fallback: model.head.mining.selected_file=None mines CSP negatives as NegRefine's
# src/create_negs.py does (max-cosine quantile, nouns equal to an ID name skipped) and cleans them as its
# src/neg_filter.py does before the LLM filter (docs/negrefine.md).
# Published (README / output/imagenet/seed_0/result.txt, AUROC / FPR95 %, ID = ImageNet val): iNaturalist
# 99.57 / 1.51, OpenImage-O 95.02 / 24.03, Clean 90.70 / 33.04, NINCO 81.90 / 62.11 (ah-ansari/NegRefine).
_base_ = [
    '../_base_/models/clip_vitb16_csp.py', '../_base_/datasets/imagenet_openood_v15.py', '../_base_/default_runtime.py'
]

# ID prototypes as CSP's (the base: csp_noun templates, raw mean). The head's defaults are NegRefine's: CSP's mining
# options with NegRefine's rules (used only when mining), k_pos = k_neg = 5, mm_weight = 2, composites under csp_noun
# (raw mean), 100 groups, tau 0.01.
model = dict(
    head=dict(
        _delete_=True,
        type='NegRefineHead',
        mining=dict(selected_file=dict(noun='txtfiles/negrefine/neg_labels_noun.txt',  # under csp_noun (8 templates)
                                       adj='txtfiles/negrefine/neg_labels_adj.txt')),  # under csp_adj (4 templates)
    ),
)

# clip.load's preprocessing: bicubic short-side resize to 224, centre crop
test_pipeline = [
    dict(type='LoadOODImage', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
]
test_dataloader = dict(dataset=dict(benchmark='imagenet_negrefine', pipeline=test_pipeline))
