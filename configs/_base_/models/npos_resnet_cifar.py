# Model part: NPOS trained from scratch on CIFAR (docs/npos.md "From scratch on CIFAR"; arXiv 2303.02966). A CIFAR
# ResNet (3x3 stem, no max-pool; MMPretrain's ResNet_CIFAR with zero_init_residual=False, as the reference's
# SupCEHeadResNet), projection head 512 -> 512 -> ReLU -> 128 (unit norm, CIDER's losses), outlier MLP
# 512 -> 128 -> ReLU -> 1 on the raw feature. The recipe configs set the depth, the class names, proto_m and start_iter.
model = dict(
    type='NPOSCIFARClassifier',
    backbone=dict(type='CIFARResNetBackbone', depth=18),
    class_names='txtfiles/cifar10_classes.txt',
    cache_dir=None,  # the KNN bank's features and fit: the tools fill in --cache-dir
    # primary score: KNN on the L2-normalised pooled feature h (not the projection), K = 300 (eval_ood_detection.py
    # --K 300); squared distance to the K-th nearest CIFAR-train feature, negated (higher = ID)
    head=dict(type='KNNHead', k=300),  # on `global` = h / ||h||, normalised bank
    # `outlier`: the outlier MLP's logit (trained, never scored by the reference)
    extra_heads=[dict(type='NPOSHead')],
    proj_dim=128,  # feat_dim
    mlp_hidden=128,  # the outlier MLP's hidden width = feat_dim (the CLIP part uses 32)
    # CIDER: temp 0.1; L_dis factor temp/0.1 = 1, L_comp factor temp/0.07 (the reference's base temperatures);
    # w_disp 0.5, w_comp 1; proto_m 0.95 (CIFAR-10) / 0.5 (CIFAR-100)
    cider=dict(type='CIDERLoss', momentum=0.95, temperature=0.1, base_temperature_dis=0.1,
               base_temperature_comp=0.07, weight_dis=0.5, weight_comp=1.0),
    synthesis=dict(
        type='NPOSOutlierSynthesis',
        queue_size=1000,  # sample_number; persistent buffers with a per-class gate (the reference re-zeroes them
        # every epoch behind a global gate: fixed, docs/reference_deviations.md)
        k=300,  # --K 300
        select=200,  # select
        picks=2,  # pick_nums
        num_draws=600,  # --sample_from 600
        sigma=0.1,  # --cov_mat 0.1
        keep=200,  # --ID_points_num 200 (honoured in the from-scratch scripts): 10 x 2 x 200 = 4,000 outliers (C-10)
        rejection='fixed',  # 'reference' reproduces its permuted selection
        seed=0),
    loss_reg=dict(type='OutlierRegLoss', loss_weight=0.1),  # loss_weight
    # CIFAR-10 train mean/std (x 255, RGB) for training and test (the reference's CIFAR-10 test std 0.2023... is a
    # mismatch: fixed; data_preprocessor.std=[51.5865, 50.847, 51.255] at test time reproduces it). Images reach it
    # as BGR (LoadImageOrArray), hence to_rgb.
    data_preprocessor=dict(type='MultiViewDataPreprocessor', mean=[125.307, 122.961, 113.8575],
                           std=[63.0105, 62.0925, 66.708], to_rgb=True),
)
