# TOE study cell real x text: TOE's textual outlier exposure with the CLASS NAMES of an auxiliary set, each as
# "a photo of a {c}" (model.outliers.source, set per config), CapDec noise (variance 0.016), CE + 0.5 x OE; 300 epochs
# of ceil(#names / 32) iterations (the reference zips the ID loader with the name loader), constant lr.
_base_ = ['./toe_study_vitb32.py', '../datasets/toe_study_imagenet.py']
model = dict(mode='real', domain='text',
             outliers=dict(level='word', word_source='list', word_template='a photo of a {}', source=None))
train_cfg = dict(epochs=300)
