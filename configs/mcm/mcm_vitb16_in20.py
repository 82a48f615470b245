# MCM (NeurIPS 2022), zero-shot CLIP ViT-B/16 (OpenAI): ID = ImageNet-20 val (MCM's 20 classes, CLIP names) vs
# ImageNet-10 *train* (near); MCM's ImageNet-20 setting (benchmark `imagenet20` pairs ImageNet-10 val instead). Model
# and preprocessing as configs/mcm/mcm_vitb16.py (prompt "a photo of a {}", softmax of raw cosines at T = 1); only the
# benchmark (`imagenet20_mcm`, docs/data.md) and the class names differ. Published numbers: not retrieved.
# Data: data/imagenet20/val/<wnid>/*.JPEG and data/imagenet10/train/<wnid>/*.JPEG
#   python tools/verify_data.py --benchmark imagenet20_mcm
#   python tools/test.py configs/mcm/mcm_vitb16_in20.py
_base_ = ['./mcm_vitb16.py']
model = dict(class_names='txtfiles/imagenet20_classes.txt')
test_dataloader = dict(dataset=dict(benchmark='imagenet20_mcm'))
