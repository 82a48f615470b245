# Runtime shared by every mmood config.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmood'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# OODPrepareHook: ID prompts, NegLabel negatives (once, rank 0, cached, broadcast), heads fitted on ID-train features,
# the model's score declarations given to the metric. SetLevelScoresHook: set-level scores (AdaNeg) of the gathered
# test stream, before the metric computes. OODResultsHook: metrics.json, per_sample_results.csv and the report of every
# test run -- whichever script runs the config (tools/test.py or MMPretrain's tools/test.py / mim test).
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/ switch to gloo when no GPU is present
)
# One DDP wrapper for every model: plain DDP when something trains, a pass-through for zero-shot models
# (DDP refuses modules without trainable parameters). See mmood/engine/wrappers.py.
model_wrapper_cfg = dict(type='OODDistributedDataParallel', broadcast_buffers=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
