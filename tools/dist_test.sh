#!/usr/bin/env bash
# Usage: bash tools/dist_test.sh CONFIG [CHECKPOINT] GPUS [test.py options]
# (MMPretrain's argument order; the checkpoint may be left out for zero-shot configs.)
# NNODES, NODE_RANK, PORT and MASTER_ADDR come from the environment.
set -e
CONFIG=$1
if [[ "$2" =~ ^[0-9]+$ ]] && [ -z "$3" -o "${3:0:1}" = "-" ]; then
    CHECKPOINT=none; GPUS=$2; shift 2
else
    CHECKPOINT=$2; GPUS=$3; shift 3
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$DIR/..":$PYTHONPATH \
python -m torch.distributed.run --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS --master_port=$PORT \
    "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
