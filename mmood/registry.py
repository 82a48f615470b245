"""mmood's own registries (models, datasets, metrics and hooks go into MMPretrain's).

* ``SCORERS`` -- post-hoc OOD scorers that re-score cached features (:mod:`mmood.scorers`). One registry, looked
  up by name (``msp``, ``energy``, ``knn``...): ``tools/score.py --methods`` builds them with
  :func:`mmood.scorers.build_scorer` (``build_scorer('knn', dict(k=100))``); adding a method is registering a
  class, never editing a dispatch.
"""
from mmengine.registry import Registry

SCORERS = Registry('ood scorer', scope='mmood', locations=['mmood.scorers'])

__all__ = ['SCORERS']
