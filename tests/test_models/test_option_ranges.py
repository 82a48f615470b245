"""Every head's declared option ranges name real options, are checked when the head is built (from a config, from
METHODS, or directly), and keep the defaults in range."""
import inspect

import pytest
from mmpretrain.registry import MODELS

from mmood.models.heads import BaseOODHead, build_head
from mmood.utils import ConfigError


def head_classes():
    seen, todo = [], [BaseOODHead]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen and MODELS.get(sub.__name__) is sub:
                seen.append(sub)
            todo.append(sub)
    return sorted(seen, key=lambda c: c.__name__)


HEADS = head_classes()


def test_the_registered_heads_are_found():
    names = {c.__name__ for c in HEADS}
    assert {'MCMHead', 'NegLabelHead', 'AdaNegHead', 'NegRefineHead', 'KNNHead', 'GENHead'} <= names


@pytest.mark.parametrize('cls', HEADS, ids=lambda c: c.__name__)
def test_declared_ranges_name_options_and_defaults_are_in_range(cls):
    params = set()
    for klass in cls.__mro__:
        if '__init__' in klass.__dict__ and issubclass(klass, BaseOODHead):
            params |= set(inspect.signature(klass.__init__).parameters)
    for name in cls.option_ranges:
        group, _, key = name.partition('.')
        assert group in params, f'{cls.__name__}.option_ranges names "{name}", not an option'
        if key:
            assert key in cls.option_groups[group], f'{cls.__name__}: "{key}" is not a key of {group}'
    from mmood.utils.options import range_problems
    assert range_problems(cls.option_ranges, cls.given_options()) == []


@pytest.mark.parametrize('cfg, named', [
    (dict(type='AdaNegHead', memory=dict(gamma=1.5)), 'memory.gamma=1.5'),      # its formula's thresholds leave [0, 1]
    (dict(type='AdaNegHead', memory=dict(memleng=-1)), 'memory.memleng=-1'),
    (dict(type='NegLabelHead', mining=dict(neg_ratio=1.5)), 'mining.neg_ratio=1.5'),
    (dict(type='NegLabelHead', grouping=dict(ngroup=0)), 'grouping.ngroup=0'),
    (dict(type='MCMHead', tau=0.0), 'tau=0.0'),
    (dict(type='LogitHead', temperature=-1), 'temperature=-1'),
    (dict(type='GENHead', top_m=2.5), 'top_m=2.5'),
    (dict(type='KNNHead', k=0), 'k=0'),
    (dict(type='NegRefineHead', matching=dict(k_pos=0)), 'matching.k_pos=0'),
])
def test_out_of_range_options_are_refused_when_built(cfg, named):
    with pytest.raises(ConfigError, match='outside its range') as err:
        build_head(cfg)
    assert named in str(err.value)
    cls = MODELS.get(cfg['type'])
    with pytest.raises(ConfigError, match='outside its range'):  # a head built directly is checked the same way
        cls(**{k: v for k, v in cfg.items() if k != 'type'})


def test_options_in_range_build():
    head = build_head(dict(type='AdaNegHead', memory=dict(gamma=1.0, gap=0.0, memleng=2), lam=0.0))
    assert head.stream_seeds == (0, 1, 2)
