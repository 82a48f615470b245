#!/usr/bin/env bash
# What tools/slurm_test.sh and tools/slurm_train.sh share (sourced by them): the srun call of MMPretrain's form --
# one task per GPU, each running tools/$1 with --launcher slurm, which takes its rank, world size and master address
# from srun's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_NODELIST (MASTER_PORT from the environment, else
# 29500). Reads PARTITION and JOB_NAME; GPUS (8), GPUS_PER_NODE (GPUS up to 8), CPUS_PER_TASK (5), SRUN_ARGS.
# Usage: slurm_run SCRIPT FIXED_ARGS... -- USER_ARGS...  (the user's options after --launcher, as MMPretrain's scripts)
slurm_run() {
    local script=$1; shift
    local fixed=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do fixed+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    local gpus=${GPUS:-8}
    local gpus_per_node=${GPUS_PER_NODE:-$((gpus < 8 ? gpus : 8))}
    local dir
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    PYTHONPATH="$dir/..":$PYTHONPATH \
    srun -p ${PARTITION} \
        --job-name=${JOB_NAME} \
        --gres=gpu:${gpus_per_node} \
        --ntasks=${gpus} \
        --ntasks-per-node=${gpus_per_node} \
        --cpus-per-task=${CPUS_PER_TASK:-5} \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        python -u "$dir/$script" "${fixed[@]}" --launcher="slurm" "$@"
}
