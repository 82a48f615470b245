# TOE study cell virtual x text: as virtual x image, but the Gaussians are fitted to the ID classes' TEXT embeddings
# (the class prompts of model.templates, fixed), so the virtual outliers lie in the text-embedding space.
_base_ = ['./toe_study_vitb32.py', '../datasets/toe_study_imagenet.py']
model = dict(mode='virtual', domain='text', num_samples=10000, select=1, start_epoch=40, cov_jitter=1e-4,
             virtual_loss=dict(type='VirtualOutlierLoss', weight=0.1),
             templates=['a photo of a {}', 'a blurry photo of a {}', 'a photo of many {}', 'a photo of the large {}',
                        'a photo of the small {}', 'a close-up photo of a {}', 'a bright photo of a {}',
                        'a cropped photo of a {}', 'a good photo of a {}', 'a photo of one {}'])
train_cfg = dict(epochs=100)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, eta_min=1e-7)]
