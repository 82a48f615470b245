"""Hooks of every mmood config (``configs/_base_/default_runtime.py``), one per file, so any script that runs a config
-- ``tools/test.py``, MMPretrain's ``tools/test.py`` (``mim test``) -- gets the same run:

* :class:`OODPrepareHook` -- before testing: text side (ID prototypes, NegLabel negatives), fitted heads (KNN /
  Mahalanobis on the cached ID-train features, extracted once when missing), the metric's score declarations;
* :class:`SetLevelScoresHook` -- after the last test batch: set-level scores of the gathered stream, handed to the
  metric before it computes;
* :class:`OODResultsHook` -- after testing: ``per_sample_results.csv``, the report and, last, ``metrics.json``
  (:func:`mmood.evaluation.write_results`);
* :class:`SaveFeaturesHook` -- ``tools/test.py --save-features``: the run's image features into the feature cache;
* :class:`DatasetEpochHook`, :class:`IntraOpThreadsHook` -- training helpers.
"""
from .id_train_init_hook import IDTrainInitHook
from .dataset_epoch_hook import DatasetEpochHook
from .prepare_hook import OODPrepareHook, fit_heads_from_cache
from .results_hook import OODResultsHook
from .save_features_hook import SaveFeaturesHook
from .set_level_hook import SetLevelScoresHook
from .threads_hook import IntraOpThreadsHook
from .utils import ood_metrics_of, unwrap

__all__ = ['OODPrepareHook', 'OODResultsHook', 'SetLevelScoresHook', 'SaveFeaturesHook', 'DatasetEpochHook',
           'IntraOpThreadsHook', 'IDTrainInitHook', 'fit_heads_from_cache', 'ood_metrics_of', 'unwrap']

#: the hooks every mmood test run needs, in order (``configs/_base_/default_runtime.py`` lists them)
OOD_HOOKS = ('OODPrepareHook', 'SetLevelScoresHook', 'OODResultsHook')
__all__.append('OOD_HOOKS')
