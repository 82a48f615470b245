# TOE study cell real x image: outlier exposure (CE + 0.5 x OE) with the IMAGES of an auxiliary set (model.aux_images,
# set per config), their raw projected CLIP features as the outliers, no noise; 25 epochs of min(ID batches, auxiliary
# batches) iterations, constant lr (the reference steps no scheduler in this cell).
_base_ = ['./toe_study_vitb32.py', '../datasets/toe_study_imagenet.py']
model = dict(mode='real', domain='image')
train_cfg = dict(epochs=25)
