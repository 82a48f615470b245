"""High-level entry points built on the rest of mmood (nothing in mmood imports this package).

* :func:`reproduce` -- check, run and compare every published number of ``configs/metafile.yml``
  (``tools/analysis_tools/reproduce.py``; docs/reproduce.md).
"""
from .reproduce import (DEFAULT_TOLERANCE, RECORD_FILE, Published, RunCheck, RunSpec, check_run, load_metafile,
                        load_run_config, metafile_problems, reproduce, run_digest, select_runs, valid_metric_keys,
                        write_table)

__all__ = ['reproduce', 'load_metafile', 'select_runs', 'load_run_config', 'check_run', 'run_digest',
           'valid_metric_keys', 'metafile_problems', 'write_table', 'Published', 'RunSpec', 'RunCheck',
           'DEFAULT_TOLERANCE', 'RECORD_FILE']
