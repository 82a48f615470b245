"""Every config under configs/ loads, and its model builds with the backbone swapped for the tiny tower."""
import glob
import os.path as osp

import pytest
from conftest import REPO, config_path, method_configs, tiny_backbone
from mmengine.config import Config
from mmpretrain.registry import MODELS
from hf_tiny import tiny_swap as hf_tiny_swap
from timm_cases import tiny_swap

from mmood.datasets import BENCHMARKS, resolve_sets
from mmood.models.heads import build_head
from mmood.text import resolve_templates

CONFIGS = method_configs()


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    for m in ('neglabel', 'mcm', 'glmcm'):
        assert f'{m}_vitb16.py' in names and f'{m}_vitb16_openood.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_builds(path, tmp_path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'mmood' in cfg.custom_imports['imports']
    model_cfg = cfg.model.to_dict()
    if model_cfg.get('backbone', {}).get('type') == 'OpenCLIPBackbone':
        # the tiny tower, keeping what the config fine-tunes of it (NPOS: trainable_blocks, frozen=False)
        kept = {k: v for k, v in model_cfg['backbone'].items() if k in ('trainable_blocks', 'frozen')}
        model_cfg['backbone'] = tiny_backbone(**kept)
    elif model_cfg.get('backbone', {}).get('type') == 'TimmBackbone':  # random tiny weights of the same family
        model_cfg['backbone'] = tiny_swap(model_cfg['backbone'])
    elif model_cfg.get('backbone', {}).get('type') == 'HFVLMBackbone':  # a tiny random model of the same family
        model_cfg['backbone'] = hf_tiny_swap(model_cfg['backbone'], tmp_path)
    if model_cfg.get('type') == 'TOEWordDecoder':  # a tiny random decoder and a WordPiece tokenizer written here
        from hf_tiny import write_bert_tokenizer
        write_bert_tokenizer(str(tmp_path / 'tok'))
        model_cfg.update(tokenizer=str(tmp_path / 'tok'), decoder=dict(config=dict(
            vocab_size=94, hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)))
    model = MODELS.build(model_cfg)
    assert model is not None
    if 'test_dataloader' in cfg and cfg.test_dataloader.dataset.type == 'OODEvalDataset':
        id_set, ood_sets, class_names = resolve_sets(cfg.test_dataloader.dataset.to_dict())
        assert ood_sets and all(s.get('name') and s['group'] in ('near', 'far') for s in ood_sets)
        assert class_names


def built_head(cfg):
    """The config's head as built (its option dicts merged with the head's defaults)."""
    return MODELS.build(cfg.model.head.to_dict())


def test_reference_parameters():
    neg = Config.fromfile(osp.join(REPO, 'configs', 'neglabel', 'neglabel_vitb16.py'))
    h = built_head(neg)
    m = h.mining_cfg
    assert (type(h).__name__, h.tau, h.ngroup, m['percentile'], m['neg_ratio'], m['noun_prompt'], m['adj_prompt']) \
        == ('NegLabelHead', 0.01, 100, 0.95, 0.15, 'the nice {}', 'This is a {} photo')
    assert (h.shuffle, h.seed, h.drop_tail_before_shuffle, m['exclude_id_names'], m['selected_file']) == \
        (True, 0, True, False, None)
    assert neg.model.templates == 'neglabel' and neg.model.backbone.model_name == 'ViT-B-16'
    assert neg.model.backbone.pretrained == 'openai'
    resize = [t for t in neg.test_dataloader.dataset.pipeline if t.type == 'ResizeEdge'][0]
    assert resize.interpolation == 'bilinear' and resize.scale == 224
    gl = Config.fromfile(osp.join(REPO, 'configs', 'glmcm', 'glmcm_vitb16.py'))
    assert gl.model.head.local_weight == 0.5 and gl.model.templates == 'mcm'
    oo = Config.fromfile(osp.join(REPO, 'configs', 'neglabel', 'neglabel_vitb16_openood.py'))
    groups = {s['name']: s['group'] for s in resolve_sets(oo.test_dataloader.dataset.to_dict())[1]}
    assert groups == {'SSB-hard': 'near', 'NINCO': 'near', 'iNaturalist-v1.5': 'far', 'Textures-v1.5': 'far',
                      'OpenImage-O': 'far'}
    assert oo.model.head.type == 'NegLabelHead'


def _resize(cfg):
    (resize, ) = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'ResizeEdge']
    return resize.interpolation, resize.scale


def test_negative_label_family_parameters():
    """CSP, AdaNeg and NegRefine with the hyper-parameters of each reference's config or script."""
    csp = Config.fromfile(osp.join(REPO, 'configs', 'csp', 'csp_vitb16.py'))
    h = built_head(csp)
    m = h.mining_cfg
    assert (type(h).__name__, h.tau, h.ngroup, m['percentile'], m['neg_ratio'], m['max_sim_cutoff'],
            m['conjugation'], m['ensemble']) == ('CSPHead', 0.01, 100, 0.95, 0.15, 0.95, 'random', 'raw_mean')
    assert (m['noun_prompt'], m['adj_prompt'], m['replace_underscores'], m['conjugation_seed']) == \
        ('csp_noun', 'csp_adj', True, 0)
    assert set(m['exclude_files']) == {'noun.person.txt', 'noun.quantity.txt', 'noun.group.txt', 'adj.pert.txt'}
    assert (csp.model.templates, csp.model.ensemble, _resize(csp)) == ('csp_noun', 'raw_mean', ('bilinear', 224))
    ada = Config.fromfile(osp.join(REPO, 'configs', 'adaneg', 'adaneg_vitb16.py'))
    h = built_head(ada)
    c, m = h.stream_cfg, h.mining_cfg
    assert (c['gamma'], c['gap'], c['lam'], c['memleng'], c['beta'], h.ngroup, m['num_neg'], h.stream_batch_size,
            m['quantile']) == (0.5, 0.5, 0.1, 10, 5.0, 5, 10000, 256, 'index')
    assert (h.proxies, h.stream_seeds, c['full_capacity'], c['replacement'], c['score_before_update']) == \
        (('task', 'sample'), (0, 1, 2), False, 'entropy', False)
    assert (m['noun_prompt'], m['adj_prompt'], m['neg_ratio'], m['priority'], m['split'], m['order'],
            m['exclude_id_names'], m['percentile']) == \
        ('adaneg', 'adaneg_adj', None, 'noun', 'floor_adj', 'adj_first', 'exact', 0.95)
    assert (ada.model.templates, _resize(ada), ada.test_dataloader.dataset.pipeline[2].crop_size) == \
        ('adaneg', ('bicubic', 256), 224)
    assert ('ood', 'first_ge') in [tuple(c) for c in ada.test_evaluator.extra_fpr]
    ada_oo = Config.fromfile(osp.join(REPO, 'configs', 'adaneg', 'adaneg_vitb16_openood.py'))
    assert ada_oo.test_dataloader.dataset.benchmark == 'openood_v15_imagenet' and _resize(ada_oo)[0] == 'bicubic'
    neg = Config.fromfile(osp.join(REPO, 'configs', 'negrefine', 'negrefine_vitb16.py'))
    h = built_head(neg)
    m = h.mining_cfg
    assert (type(h).__name__, h.k_pos, h.k_neg, h.mm_weight, m['percentile'], h.ngroup, h.tau) == \
        ('NegRefineHead', 5, 5, 2.0, 1.0, 100, 0.01)
    assert (m['exclude_id_names'], m['clean_words'], m['noun_prompt'], m['ensemble']) == \
        ('exact_nouns', True, 'csp_noun', 'raw_mean')
    assert (tuple(h.composite_templates), h.composite_ensemble, h.pair_cache_size) == \
        (tuple(resolve_templates('csp_noun')), 'raw_mean', 100000)
    assert m['selected_file'] == dict(noun='txtfiles/negrefine/neg_labels_noun.txt',
                                      adj='txtfiles/negrefine/neg_labels_adj.txt')
    assert (neg.model.templates, neg.model.ensemble) == ('csp_noun', 'raw_mean')
    assert _resize(neg) == ('bicubic', 224)
    sets = [s['name'] for s in resolve_sets(neg.test_dataloader.dataset.to_dict())[1]]
    assert {'iNaturalist-v1.5', 'OpenImage-O', 'NINCO', 'Clean'} <= set(sets)


def test_option_dicts_override_only_what_they_name():
    """A config's option dict keeps the head's other defaults: the tiny configs change a few options each."""
    def head(name):
        return built_head(Config.fromfile(config_path(f'{name}_tiny_digits')))

    csp = head('csp')
    assert (csp.ngroup, csp.seed, csp.mining_cfg['exclude_id_names'], csp.mining_cfg['conjugation']) == \
        (10, 0, True, 'random')
    neg = head('negrefine')  # its own head (_delete_): NegRefine's rules, not csp_tiny_digits' ID-name rule
    assert (neg.ngroup, neg.mining_cfg['exclude_id_names'], neg.mining_cfg['percentile']) == (10, 'exact_nouns', 1.0)
    ada = head('adaneg')
    assert (ada.mining_cfg['num_neg'], ada.stream_batch_size, ada.stream_seeds, ada.ngroup) == (500, 64, (0, 1, 2), 5)
    assert (head('neglabel').ngroup, head('neglabel').mining_cfg['exclude_id_names']) == (10, True)


def test_benchmark_table_is_the_one_source():
    """The _base_ dataset configs name benchmarks; resolving them gives the table's sets under data/ (the paths the
    docs/data.md documents), and the ImageNet OOD list is written once."""
    mos = resolve_sets(dict(benchmark='imagenet_mos'))
    assert mos[0] == dict(name='ImageNet', data_root='data/imagenet/val', ann_file='data/imagenet/meta/val.txt')
    names = ('iNaturalist', 'SUN', 'Places', 'Textures')
    assert [s['data_root'] for s in mos[1]] == [f'data/ood_data/{n}' for n in names]
    plp = resolve_sets(dict(benchmark='plp_imagenet', benchmark_root='/mnt/x'))
    assert [s['name'] for s in plp[1]] == ['iNaturalist', 'SUN', 'Places', 'Textures', 'NINCO', 'ImageNet-O']
    assert plp[1][0]['data_root'] == '/mnt/x/ood_data/iNaturalist' and plp[2].endswith('plp_first_synonym.txt')
    cifar = resolve_sets(dict(benchmark='cifar100'))
    assert cifar[1][0]['dataset']['data_root'] == 'data/cifar10' and cifar[1][0]['group'] == 'near'
    assert resolve_sets(dict(benchmark='imagenet20_mcm'))[1][0]['data_root'] == 'data/imagenet10/train'
    explicit = resolve_sets(dict(benchmark='imagenet_mos', ood_sets=[dict(name='Mine', data_root='x')]))
    assert [s['name'] for s in explicit[1]] == ['Mine'] and explicit[0]['name'] == 'ImageNet'
    with pytest.raises(ValueError, match='Unknown benchmark'):
        resolve_sets(dict(benchmark='imagenet_moss'))
    used = set()
    for path in CONFIGS + glob.glob(osp.join(REPO, 'configs', '_base_', 'datasets', '*.py')):
        text = open(path).read()
        assert 'ood_data/iNaturalist' not in text  # no config repeats a benchmark's sets
        used |= {name for name in BENCHMARKS if f"benchmark='{name}'" in text}
    assert {'imagenet_mos', 'openood_v15_imagenet', 'plp_imagenet', 'cifar10', 'cifar100'} <= used


def test_clipn_recipe_builds_on_cpu():
    """configs/clipn/clipn_vitb16_cc3m.py holds CLIPN's recipe (xmed-lab/CLIPN src/run.sh); its optimizer builds on CPU
    with
    OptimWrapper (mmengine's AmpOptimWrapper needs CUDA): AdamW on the no tower only, decay on matrices only."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'clipn', 'clipn_vitb16_cc3m.py'))
    m = cfg.model
    assert (m.type, m.backbone.model_name, m.backbone.pretrained) == \
        ('CLIPNClassifier', 'ViT-B-16', 'laion2b_s34b_b88k')
    head = build_head(m.head.to_dict())  # the head's defaults: ATD and CTW at a literal x100 (CN-8)
    assert (m.templates, m.num_prompts, head.scores, head.scale_option, m.logit_scale) == \
        ('clipn', 16, ('atd', 'ctw'), 100.0, 100.0)
    assert cfg.train_dataloader.batch_size == 512 and cfg.train_cfg.max_epochs == 10
    crop = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomResizedCrop'][0]
    assert (crop.scale, crop.crop_ratio_range, crop.interpolation) == (224, (0.9, 1.0), 'bicubic')
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'ResizeEdge'][0]
    assert resize.interpolation == 'bicubic' and cfg.test_evaluator.fpr_rule == 'closest'
    (sched, ) = cfg.param_scheduler
    assert (sched.type, sched.end, sched.eta_min, sched.convert_to_iter_based) == ('CosineAnnealingLR', 10, 0.0, True)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    model_cfg = cfg.model.to_dict()
    model_cfg['backbone'] = tiny_backbone()
    model = MODELS.build(model_cfg)
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper.to_dict(), type='OptimWrapper'))
    opt = wrapper.optimizer
    assert type(opt).__name__ == 'AdamW' and opt.defaults['betas'] == (0.9, 0.98) and opt.defaults['eps'] == 1e-6
    names = {id(p): n for n, p in model.named_parameters()}
    trained = {names[id(p)]: g['weight_decay'] for g in opt.param_groups for p in g['params'] if p.requires_grad}
    assert trained and all(n.startswith('no_tower.') for n in trained)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(trained)
    for name, decay in trained.items():
        param = dict(model.named_parameters())[name]
        assert decay == (0.2 if param.ndim >= 2 else 0.0), name
    assert all(g['lr'] == 3e-4 for g in opt.param_groups)


def test_npos_recipes():
    """NPOS's IN-100 and IN-1k recipes (deeplearning-wisc/npos scripts, NP-*): model, synthesis sizes, schedule in
    iterations computed from epochs, optimizer, data and preprocessing."""
    for name in ('npos_vitb16_in100.py', 'npos_vitb16_in1k.py'):
        cfg = Config.fromfile(config_path(name[:-3]))
        m = cfg.model
        assert (m.type, m.backbone.model_name, m.backbone.pretrained, m.backbone.trainable_blocks,
                m.backbone.frozen) == ('NPOSClassifier', 'ViT-B-16', 'openai', 2, False)
        head, logits = build_head(m.head.to_dict()), build_head(m.extra_heads[1].to_dict())  # defaults included
        assert m.templates == 'npos18' and (type(head).__name__, head.tau) == ('MCMHead', 1.0)
        assert [h.type for h in m.extra_heads] == ['NPOSHead', 'LogitHead']
        assert logits.scores == ('msp', 'maxlogit', 'energy') and m.logit_scale == 100.0
        assert (m.loss_id.type, m.loss_id.temperature, m.loss_reg.type, m.loss_reg.loss_weight) == \
            ('LogitNormLoss', 8.0, 'OutlierRegLoss', 0.1)
        s = m.synthesis
        assert (s.queue_size, s.k, s.select, s.num_draws, s.sigma, s.keep, s.rejection, s.seed) == \
            (1000, 400, 300, 1500, 0.1, 2, 'fixed', 0)
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay) == ('SGD', 0.1, 0.9, True, 1e-4)
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys == {'outlier_mlp': dict(lr_mult=0.1)}
        for loader in (cfg.train_dataloader, cfg.test_dataloader):
            steps = {t.type: t for t in loader.dataset.pipeline}
            assert (steps['ResizeEdge'].scale, steps['ResizeEdge'].edge, steps['ResizeEdge'].interpolation) == \
                (224, 'short', 'bicubic')
            assert steps['CenterCrop'].crop_size == 224 and not {'RandomResizedCrop', 'RandomFlip'} & set(steps)
        names = [s['name'] for s in resolve_sets(cfg.test_dataloader.dataset.to_dict())[1]]
        assert names == ['iNaturalist', 'SUN', 'Places', 'Textures']

    in100 = Config.fromfile(osp.join(REPO, 'configs', 'npos', 'npos_vitb16_in100.py'))
    assert (in100.iters_per_epoch, in100.train_dataloader.batch_size) == (159, 800)
    assert (in100.train_cfg.type, in100.train_cfg.max_iters, in100.model.start_iter) == \
        ('CachedFeatureTrainLoop', 20 * 159, 10 * 159)
    assert in100.train_cfg.extraction.storage == 'float16' and in100.param_scheduler == []  # constant lr (NP-5)
    assert in100.model.synthesis.picks == 3
    assert in100.model.class_names == 'txtfiles/npos_imagenet100_classes.txt'
    train = in100.train_dataloader.dataset
    assert (train.type, train.data_root, train.data_prefix, train.ann_file) == \
        ('CustomDataset', 'data/imagenet', 'train', 'meta/npos_imagenet100_train.txt')
    id_set, _, class_names = resolve_sets(in100.test_dataloader.dataset.to_dict())
    assert class_names == 'txtfiles/npos_imagenet100_classes.txt'
    assert id_set['ann_file'] == 'data/imagenet/meta/npos_imagenet100_val.txt'
    with open(osp.join(REPO, 'txtfiles', 'npos_imagenet100_wnids.txt')) as f:
        wnids = f.read().split()
    assert len(wnids) == 100 and wnids[0] == 'n01986214'

    in1k = Config.fromfile(osp.join(REPO, 'configs', 'npos', 'npos_vitb16_in1k.py'))
    assert in1k.iters_per_epoch == 1282 and in1k.train_dataloader.batch_size * in1k.num_gpus == 1000
    assert (in1k.train_cfg.type, in1k.train_cfg.max_iters, in1k.model.start_iter) == \
        ('IterBasedTrainLoop', 100 * 1282, 40 * 1282)
    assert in1k.model.synthesis.picks == 1 and in1k.model.class_names == 'txtfiles/imagenet_classes.txt'
    (sched, ) = in1k.param_scheduler  # the reference's MultiStepLR(milestones=[60], gamma=10), per iteration (NP-5)
    assert (sched.type, sched.by_epoch, sched.milestones, sched.gamma) == ('MultiStepLR', False, [60 * 1282], 10.0)
    assert (in1k.train_dataloader.dataset.type, in1k.train_dataloader.dataset.split) == ('ImageNet', 'train')
    assert in1k.test_dataloader.dataset.benchmark == 'imagenet_mos'


def test_openood_configs_preprocess_as_their_numbers_source():
    """The OpenOOD v1.5 numbers in docs/neglabel.md, docs/mcm.md and docs/adaneg.md come from OpenOOD-VLM's logs:
    bicubic 256 -> centre crop 224."""
    pipelines = set()
    for name in ('neglabel', 'mcm', 'glmcm', 'csp', 'adaneg'):
        cfg = Config.fromfile(config_path(f'{name}_vitb16_openood'))
        assert cfg.test_dataloader.dataset.benchmark == 'openood_v15_imagenet'
        (crop, ) = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'CenterCrop']
        assert (_resize(cfg), crop.crop_size) == (('bicubic', 256), 224), name
        pipelines.add(repr(cfg.test_dataloader.dataset.pipeline))
    assert len(pipelines) == 1  # one extraction serves them all (tools/score.py)
    mos = Config.fromfile(osp.join(REPO, 'configs', 'neglabel', 'neglabel_vitb16.py'))
    assert _resize(mos) == ('bilinear', 224)
