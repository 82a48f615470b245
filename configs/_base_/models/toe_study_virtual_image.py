# TOE study cell virtual x image: no auxiliary data; VOS-style virtual outliers (Gaussian around per-class queues of
# the last 100 ID image features, shared covariance + 1e-4 I, 10,000 draws per class, the lowest-density one kept) from
# epoch 40, CE + 0.1 x the uncertainty loss (a logistic regression on the energy); 100 epochs of ID batches, lr cosine
# from 1e-3 to 1e-7 per iteration (the reference's LambdaLR).
_base_ = ['./toe_study_vitb32.py', '../datasets/toe_study_imagenet.py']
model = dict(mode='virtual', domain='image', queue_size=100, num_samples=10000, select=1, start_epoch=40,
             cov_jitter=1e-4, virtual_loss=dict(type='VirtualOutlierLoss', weight=0.1))
train_cfg = dict(epochs=100)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=1e-7)]  # end: the last iteration
