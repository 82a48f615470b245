"""Config mistakes are errors naming the closest key, not silently ignored options."""
import os.path as osp
import subprocess

import pytest
from conftest import REPO

from mmood.utils import ConfigError, check_cfg_options, component_options

CONFIG = osp.join(REPO, 'configs', 'neglabel', 'neglabel_vitb16.py')


@pytest.fixture(scope='module')
def read_config():
    from mmood.apis import read_config
    return read_config


@pytest.mark.parametrize('option, message', [
    ('test_evalutor.fpr_rule', 'Did you mean "test_evaluator"'),  # a typo at the top level: would be a new key
    ('model.head.tua', 'Did you mean "model.head.tau"'),
    ('test_dataloader.dataset.benchmark_rot', 'Did you mean "test_dataloader.dataset.benchmark_root"'),
    ('model.extra_heads.3.prefix', '"3" is not an index of model.extra_heads (a list of 1)'),
    ('model.templates.value', 'model.templates is a value'),
    ('model.head.mining.neg_ration', 'Did you mean "model.head.mining.neg_ratio"'),  # a key of an option dict
    ('model.head.grouping.ngroups', 'Did you mean "model.head.grouping.ngroup"'),
])
def test_unknown_keys_are_refused(read_config, option, message):
    with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
        read_config(CONFIG, {option: 1})


@pytest.mark.parametrize('option', [
    'model.head.tau',                            # not written in the config, but an option of NegLabelHead
    'test_dataloader.dataset.skip_unreadable',   # an option of OODEvalDataset
    'model.extra_heads.0.prefix',                # in a list
    'model.head.mining.corpus_dir',              # a key of the head's option dict `mining` (not in the config)
    'model.head.grouping.ngroup',
    'test_evaluator.extra_fpr', 'randomness.seed', 'model.backbone.pretrained', 'work_dir',
])
def test_valid_keys_are_merged(read_config, option):
    value = [['ood', 'first_ge']] if option.endswith('extra_fpr') else 3
    cfg = read_config(CONFIG, {option: value})
    if option.startswith('model.head.mining') or option.startswith('model.head.grouping'):
        from mmpretrain.registry import MODELS
        head = MODELS.build(cfg.model.head.to_dict())  # the dict merges over the head's defaults
        group, key = option.split('.')[2:]
        assert head.mining_cfg[key] == value if group == 'mining' else head.ngroup == value
        assert head.mining_cfg['neg_ratio'] == 0.15  # the other keys keep their defaults
    node = cfg
    for part in option.split('.'):
        node = node[int(part)] if part.isdigit() else node[part]
    assert node == value


def test_component_options_and_missing_files(read_config):
    assert {'tau', 'mining', 'grouping', 'prefix', 'templates'} <= set(component_options('NegLabelHead'))
    assert 'skip_unreadable' in component_options('OODEvalDataset') and component_options('NoSuchType') == []
    with pytest.raises(ConfigError, match='Config file not found: nope.py'):
        read_config('nope.py')
    check_cfg_options(dict(a=dict(b=1)), {'a.b': 2})  # plain dicts work too
    proc = subprocess.run(['bash', 'run.sh', 'missing.py'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().count('\n') == 0
    assert 'config file not found: missing.py' in proc.stderr
