"""What the tools do, as library functions (the top layer: nothing in mmood imports this package).

Every script in ``tools/`` parses its arguments and calls one of these (MMPretrain's ``mmpretrain.apis`` shape):

* :func:`test` -- ``tools/test.py``; :func:`score` -- ``tools/score.py`` (the same scoring path and writer on
  cached features);
* :func:`train` -- ``tools/train.py``;
* :func:`extract_features` -- ``tools/extract_features.py`` (the feature cache);
* :func:`verify_data` -- ``tools/verify_data.py`` (:func:`list_benchmarks` for ``--list-benchmarks``);
* :func:`demo` -- ``tools/demo.py`` (the offline digits demo);
* :func:`list_cache`, :func:`cache_info`, :func:`clean_cache` -- ``tools/cache.py``;
* :func:`merge_runs` -- ``tools/merge_runs.py``;
* :func:`export_clip_weights` -- ``tools/export_clip_weights.py``;
* :func:`build_word_corpus`, :func:`make_subset_lists`, :func:`make_text_outliers`, :func:`caption_images` --
  ``tools/dataset_converters/``; :func:`convert_word_decoder` -- ``tools/model_converters/``;
* :func:`study_table` -- ``tools/analysis_tools/study_table.py`` (a study's table from its test runs);
* :func:`reproduce` -- check, run and compare every published number of ``configs/metafile.yml``
  (``tools/analysis_tools/reproduce.py``; docs/reproduce.md).

What they share: the user's cache folder, resolved by :func:`resolve_cache_dir` and written into a config by
:func:`apply_cache_dir`; configs read with checked ``--cfg-options`` (:func:`read_config`, :func:`load_config`,
:func:`load_runner_config`); :func:`run_runner`; the tools' common options and one-line errors (:mod:`.cli`).
"""
from .cache_admin import cache_info, clean_cache, list_cache
from .captions import caption_images
from .checks import head_text_inputs, read_test_sets, set_overlap_problems, text_input_checks
from .cli import add_cache_argument, add_common_arguments, guarded, parse_common
from .config import (apply_cache_dir, apply_common_options, default_cache_dir, load_config, load_runner_config,
                     parse_method_options, raw_cfg_options, read_config, resolve_cache_dir, set_work_dir,
                     use_available_backend)
from .data_prep import build_word_corpus, make_subset_lists
from .digits_demo import demo
from .evaluate import test, test_config
from .export import export_clip_weights
from .features import extract_features
from .merge import merge_runs
from .outliers import make_text_outliers
from .rescoring import metric_of_config, score
from .reproduce import (DEFAULT_TOLERANCE, RECORD_FILE, Published, RunCheck, RunSpec, check_run, load_metafile,
                        load_run_config, metafile_problems, reproduce, run_digest, select_runs, valid_metric_keys,
                        write_table)
from .runner import run_runner, train, train_config
from .study import study_runs, study_table
from .verify import check_weights, list_benchmarks, verify_data
from .word_decoder import coco_captions_to_tsv, convert_word_decoder

__all__ = [
    # what the tools call
    'test', 'test_config', 'score', 'metric_of_config', 'train', 'extract_features', 'verify_data', 'list_benchmarks',
    'demo', 'list_cache', 'cache_info', 'clean_cache',
    'merge_runs', 'export_clip_weights', 'build_word_corpus', 'make_subset_lists', 'make_text_outliers', 'reproduce',
    'caption_images', 'convert_word_decoder', 'coco_captions_to_tsv', 'study_table', 'study_runs',
    # configs and the cache folder
    'default_cache_dir', 'resolve_cache_dir', 'apply_cache_dir', 'use_available_backend', 'apply_common_options',
    'read_config', 'load_config', 'load_runner_config', 'set_work_dir', 'raw_cfg_options', 'parse_method_options',
    # runners and the command line
    'run_runner', 'train_config', 'guarded', 'add_cache_argument', 'add_common_arguments', 'parse_common',
    # checks
    'read_test_sets', 'set_overlap_problems', 'text_input_checks', 'head_text_inputs', 'check_weights',
    # reproduce
    'load_metafile', 'select_runs', 'load_run_config', 'check_run', 'run_digest', 'valid_metric_keys',
    'metafile_problems', 'write_table', 'Published', 'RunSpec', 'RunCheck', 'DEFAULT_TOLERANCE', 'RECORD_FILE'
]
