#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#     bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py options]
# MMPretrain's form (tools/slurm_common.sh): one srun task per GPU, each running tools/train.py with --launcher slurm, which takes its rank,
# world size and master address from srun's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_NODELIST
# (MASTER_PORT from the environment, else 29500). Without WORK_DIR: the config's, else work_dirs/<config>.
set -e
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
if [ -z "$4" ] || [ "${4:0:1}" = "-" ]; then
    WORK_DIR_ARGS=(); shift 3
else
    WORK_DIR_ARGS=(--work-dir="$4"); shift 4
fi
source "$(dirname "$0")/slurm_common.sh"
slurm_run train.py "$CONFIG" "${WORK_DIR_ARGS[@]}" -- "$@"
