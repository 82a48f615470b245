# Model part: NegLabel (ICLR 2024) head on zero-shot CLIP ViT-B/16 (ImageNet-1k class names).
# The head's defaults are the reference's (XueJiang16/NegLabel's custom_config/clip.py): prompts "the nice {}" /
# "This is a {} photo", 0.95 quantile, 15 % of nouns and adjectives, tau = 0.01, 100 groups, ID names left among
# the candidates (NL-6; mining=dict(exclude_id_names=True) is the recommended improvement). NegLabel's
# selected_neg_labels_in1k_10k.txt as mining=dict(selected_file=...) gives exact parity, no mining.
_base_ = './clip_vitb16.py'

model = dict(
    templates='neglabel',
    head=dict(_delete_=True, type='NegLabelHead'),
)
