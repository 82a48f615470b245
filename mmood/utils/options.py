"""Declared ranges of numeric options, checked in one place (a component declares them; nothing checks one by hand).

A component declares ``option_ranges = {'tau': Range(gt=0), 'memory.gamma': Range(ge=0, le=1), ...}`` (a dotted name
reaches a key of an option dict such as ``memory=dict(...)``) and :func:`check_ranges` refuses every value outside
its range with one message listing them all, the range and why it holds. :class:`~mmood.models.heads.BaseOODHead`
checks its subclasses' options this way when a head is built.
"""
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, List, Mapping, Optional

from .errors import ConfigError

__all__ = ['Range', 'check_ranges', 'range_problems', 'lookup']

_MISSING = object()


@dataclass(frozen=True)
class Range:
    """A numeric range: bounds (``gt`` / ``ge`` / ``lt`` / ``le``), ``integer`` (a whole number), ``none`` (None
    allowed: the option is off or chosen elsewhere) and ``why`` (the reason, shown with a refused value)."""
    gt: Optional[float] = None
    ge: Optional[float] = None
    lt: Optional[float] = None
    le: Optional[float] = None
    integer: bool = False
    none: bool = False
    why: str = ''

    def __str__(self) -> str:
        parts = [f'> {self.gt:g}' if self.gt is not None else '', f'>= {self.ge:g}' if self.ge is not None else '',
                 f'< {self.lt:g}' if self.lt is not None else '', f'<= {self.le:g}' if self.le is not None else '']
        text = ('an integer ' if self.integer else 'a number ') + ' and '.join(p for p in parts if p)
        return (text + (' or None' if self.none else '')).strip()

    def problem(self, value: Any) -> Optional[str]:
        """None when ``value`` is in the range, else what is wrong."""
        if value is None:
            return None if self.none else 'None is not allowed'
        if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(float(value)):
            return f'{value!r} is not a number'
        if self.integer and float(value) != int(value):
            return f'{value!r} is not an integer'
        v = float(value)
        bad = ((self.gt is not None and not v > self.gt) or (self.ge is not None and not v >= self.ge)
               or (self.lt is not None and not v < self.lt) or (self.le is not None and not v <= self.le))
        return f'{value!r} is outside the range' if bad else None


def lookup(values: Mapping[str, Any], path: str) -> Any:
    """``values['a']['b']`` for ``'a.b'``; a missing key gives an internal sentinel (the option is not set)."""
    node: Any = values
    for part in path.split('.'):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def range_problems(ranges: Mapping[str, Range], values: Mapping[str, Any]) -> List[str]:
    """``name=value: what is wrong (must be <range>: why)`` for every declared option outside its range."""
    out = []
    for name, rng in ranges.items():
        value = lookup(values, name)
        if value is _MISSING:
            continue
        problem = rng.problem(value)
        if problem:
            out.append(f'{name}={value!r}: {problem} (must be {rng}{": " + rng.why if rng.why else ""})')
    return out


def check_ranges(owner: str, ranges: Mapping[str, Range], values: Mapping[str, Any]) -> None:
    """Refuse every value of ``values`` outside its declared range in ``ranges``, in one message.

    Raises:
        ConfigError: ``<owner>: option(s) outside their ranges: ...``.
    """
    problems = range_problems(ranges, values)
    if problems:
        plural = len(problems) > 1
        where = 'options outside their ranges' if plural else 'option outside its range'
        raise ConfigError(f'{owner}: {where}: ' + '; '.join(problems))
