# CLIPN with hand-crafted prompts (xmed-lab/CLIPN, folder hand-crafted/src: the released code of the variant
# without learnable "no" prompts): a "no" text tower beside a frozen LAION CLIP ViT-B/32 (the variant's run.sh
# backbone), trained on CC3M captions put into 128 hand-written yes/no template pairs ('a bad photo of a {}.' /
# 'a bad photo of no {}.', 'a photo with a {}.' / 'a photo without a {}.'; txtfiles/clipn_prompts.txt and
# txtfiles/clipn_prompts_no.txt). One pair per caption in training (the yes tower reads the yes template with the
# caption, the no tower the no template); at test the class prototypes sum the yes / no column over the 128 pairs.
# Losses, recipe, data and test protocol as configs/clipn/clipn_vitb16_cc3m.py (read its header for GPUs and batch);
# see docs/clipn.md "Hand-crafted variant". Published numbers: none in the reference repository (its evaluation is
# CIFAR-100-only); the paper's: not retrieved.
#   bash tools/dist_train.sh configs/clipn/clipn_handcrafted_vitb32_cc3m.py 4      # the reference: 4 GPUs x 512
#   python tools/test.py configs/clipn/clipn_handcrafted_vitb32_cc3m.py \
#       work_dirs/clipn_handcrafted_vitb32_cc3m/epoch_10.pth
_base_ = ['./clipn_vitb16_cc3m.py']
model = dict(
    backbone=dict(model_name='ViT-B-32', pretrained='laion2b_s34b_b79k', activation='gelu'),
    no_prompt_mode='handcrafted',
    prompt_pairs=('clipn', 'clipn_no'),  # named sets of mmood/text/prompts.py, or two .txt files, or two lists
    yes_text='templated',  # 'raw': the yes tower reads the bare caption (an ablation)
)
