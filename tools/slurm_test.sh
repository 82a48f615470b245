#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#     bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG [CHECKPOINT] [test.py options]
# MMPretrain's form (tools/slurm_common.sh): one srun task per GPU, each running tools/test.py with --launcher slurm, which takes its rank,
# world size and master address from srun's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_NODELIST
# (MASTER_PORT from the environment, else 29500). The checkpoint may be left out for zero-shot configs.
set -e
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
if [ -z "$4" ] || [ "${4:0:1}" = "-" ]; then
    CHECKPOINT=none; shift 3
else
    CHECKPOINT=$4; shift 4
fi
source "$(dirname "$0")/slurm_common.sh"
slurm_run test.py "$CONFIG" "$CHECKPOINT" -- "$@"
