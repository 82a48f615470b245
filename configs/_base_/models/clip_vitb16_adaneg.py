# Model part: AdaNeg (NeurIPS 2024, arXiv 2410.20149) on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# NegLabel plus a test-time memory of confident test images per label; scored per (ID, OOD set) pair on the gathered
# features, as seeded shuffled streams of 256 (docs/adaneg.md). AdaNegHead's defaults are the hyper-parameters of the
# reference's scripts/ood/adaneg/imagenet.sh: gamma 0.5, gap 0.5, memleng 10, lambda 0.1, 5 groups, beta int(5.5) = 5
# (ADA-3), 9 images per label (ADA-2), entropy replacement in fp32 (ADA-1), a batch written before it is scored
# (ADA-5); task and sample proxies, seeded streams 0, 1, 2 (ADA-4: mean ± std in the metrics); AdaNeg's mining
# (ADA-6: 10,000 negatives, 'The nice {}.' / 'This is a {} photo.') with the evaluated backbone.
_base_ = './clip_vitb16.py'

model = dict(
    templates='adaneg',  # 'The nice {}.'
    head=dict(_delete_=True, type='AdaNegHead'),
)
