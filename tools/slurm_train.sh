#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#     bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py options]
# MMPretrain's form: one srun task per GPU, each running tools/train.py with --launcher slurm, which takes its rank,
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
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
DIR=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$DIR/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$DIR/train.py" "$CONFIG" "${WORK_DIR_ARGS[@]}" --launcher="slurm" "$@"
