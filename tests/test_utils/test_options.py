"""Declared option ranges: the Range rule, one message for every refused value."""
import math

import pytest

from mmood.utils import ConfigError, Range, check_ranges
from mmood.utils.options import range_problems


@pytest.mark.parametrize('rng, good, bad', [
    (Range(gt=0), [1e-9, 1, 100.0], [0, -1, float('nan'), None, 'x', True]),
    (Range(ge=0, le=1), [0, 0.5, 1], [-1e-9, 1.0000001, math.inf]),
    (Range(ge=1, integer=True), [1, 2, 3.0], [0, 1.5, -2]),
    (Range(gt=0, le=1, none=True), [None, 0.3, 1], [0, 2]),
])
def test_range_accepts_and_refuses(rng, good, bad):
    assert all(rng.problem(v) is None for v in good)
    assert all(rng.problem(v) for v in bad)


def test_one_message_for_every_refused_value():
    ranges = {'tau': Range(gt=0, why='a temperature'), 'memory.gamma': Range(ge=0, le=1), 'k': Range(ge=1)}
    values = dict(tau=-1, memory=dict(gamma=1.5), k=3)
    assert len(range_problems(ranges, values)) == 2
    with pytest.raises(ConfigError) as err:
        check_ranges('Head', ranges, values)
    message = str(err.value)
    assert message.startswith('Head: options outside their ranges: ')
    assert 'tau=-1' in message and 'a temperature' in message and 'memory.gamma=1.5' in message
    assert 'must be a number >= 0 and <= 1' in message and 'k=' not in message
    check_ranges('Head', ranges, dict(tau=1, memory=dict(gamma=1.0)))  # in range (and k not given): no error
