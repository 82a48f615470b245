# Model part: AdaNeg (NeurIPS 2024, arXiv 2410.20149) on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# NegLabel plus a test-time memory of confident test images per label; scored per (ID, OOD set) pair on the gathered
# features, as seeded shuffled streams of 256 (docs/adaneg.md). Hyper-parameters of the reference's
# scripts/ood/adaneg/imagenet.sh: gamma 0.5, gap 0.5, memleng 10, lambda 0.1, 5 groups, beta int(5.5) = 5.
_base_ = './clip_vitb16.py'

model = dict(
    templates='adaneg',  # 'The nice {}.'
    head=dict(
        _delete_=True,
        type='AdaNegHead',
        proxies=('task', 'sample'),  # adaneg = task proxies (the better of the reference's two runs), adaneg_sample
        stream_seeds=(0, 1, 2),  # ADA-4: seeded streams, mean ± std in the metrics
        stream_batch_size=256,
        gamma=0.5,
        gap=0.5,
        lam=0.1,
        memleng=10,
        beta=5.0,  # the reference's 5.5, truncated to int (ADA-3)
        full_capacity=False,  # 9 images per label, as the reference (ADA-2)
        replacement='entropy',  # fp32 entropies (ADA-1 fixed); 'none' approximates the reference's fp16 NaNs
        score_before_update=False,  # the reference writes a batch before scoring it (ADA-5)
        # AdaNeg's mining (ADA-6), with the evaluated backbone
        corpus_dir='txtfiles/neglabel_corpus',
        noun_prompt='adaneg',  # 'The nice {}.'
        adj_prompt='adaneg_adj',  # 'This is a {} photo.'
        num_neg=10000,
        neg_ratio=None,
        percentile=0.95,
        quantile='index',
        priority='noun',
        split='floor_adj',
        order='adj_first',
        exclude_id_names='exact',
        tau=0.01,
        ngroup=5,
        shuffle=True,
        seed=0,  # group_permutation(10000, 5, seed=0) is the reference's permutation
    ),
)
