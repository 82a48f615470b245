# TOE model part (NeurIPS 2023, arXiv:2310.16492; docs/toe.md): a linear head on the frozen open_clip tower's RAW
# projected image features (cached pre_proj rows times the tower's projection; no normalisation, no z-score: TOE-1),
# trained with cross-entropy + 0.5 x outlier exposure on noisy text embeddings of textual outliers. Method configs set
# the outlier level (model.outliers) and the tower. See docs/toe.md.
model = dict(
    type='TOEClassifier',
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai', activation='quick_gelu',
                  precision='fp32'),
    class_names='txtfiles/imagenet_classes.txt',  # labels come from the data; names: ID-name removal, word window
    # logits l = W z + b; scores toe_energy (primary: TOE's logsumexp), toe_msp, toe_maxlogit; MLP: hidden=(512, )
    head=dict(type='LinearProbeHead', project=True, zscore=False, scores=('energy', 'msp', 'maxlogit'), prefix='toe_'),
    # the textual outliers (docs/toe.md): every option, so --cfg-options model.outliers.<key>=... reaches it
    outliers=dict(
        level='description',  # 'word' | 'description' | 'caption'
        source=None,  # word: .txt/.npy list (None: WordNet window); description: JSON; caption: captions file
        file=None,  # the written list (None: <work_dir>/toe_outliers_<level>.txt)
        allow_pickle=False,  # read the reference's object .npy files (pickle runs code: trusted files only)
        fix_strip=False,  # description: prefix removed as a prefix + duplicates dropped (False = reference, TOE-8)
        corpus='txtfiles/neglabel_corpus',  # word without a source: candidate nouns
        quantile=0.95,  # word without a source: quantile of the similarity to the ID prompts
        window=(85.0, 95.0),  # word without a source: kept percentile window of those quantiles
        debug_expansion=False,  # word: + each prompt's last word in the 4 templates (the reference's --debug): 5N
        index_file=None,  # caption: the reference's kept-caption indices instead of the filter
        keep=0.15,  # caption: fraction kept, farthest from ID
        per_class=250,  # caption: ID-train images per class for the class means
        filter_backbone=None,  # caption: the filter's tower (None: this model's; TOE: ViT-B-32 / openai)
        word_source=None,  # word: 'list' | 'wordnet_window' (mmood's substitute) | 'decoder'; None: list iff source
        word_template='This is a photo of a {}',  # word: the prompt of every word
        decoder=None,  # word_source='decoder': dict(model=..., checkpoint=..., topk=55, rank_slice=(30, 55), ...)
    ),
    loss=dict(type='OutlierExposureLoss', weight=0.5),  # lambda; weight=0 is TOE's --no_exposure
    noise_variance=0.016,  # N(0, 0.016 I) added to the unit text embeddings, re-normalised, fresh every step
    outlier_batch_size=32,  # TOE's hard-coded text batch; one epoch = one pass over the outliers (TOE-4)
    seed=42,  # outlier permutations and noise draws
    cache_dir=None,  # filled by tools/ (--cache-dir, $MMOOD_CACHE or ~/.cache/mmood)
)
