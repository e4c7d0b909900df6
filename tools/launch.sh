# Sourced by dist_train.sh, dist_test.sh, slurm_train.sh, slurm_test.sh.
# The interpreter is $PYTHON if set, else this checkout's .venv (made by
# tools/setup.sh), else `python`; the checkout goes on PYTHONPATH, as in
# mmpretrain's scripts.
CF_MM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$CF_MM_ROOT/.venv/bin/python" ]; then
        PYTHON="$CF_MM_ROOT/.venv/bin/python"
    else
        PYTHON=python
    fi
fi
export PYTHONPATH="$CF_MM_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# dist_launch NPROC TOOL ARGS...: tools/TOOL on NPROC processes of this node
# (NNODES, NODE_RANK, MASTER_ADDR, PORT for several nodes).
dist_launch() {
    local nproc=$1 tool=$2
    shift 2
    "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$nproc" \
        --master_port="${PORT:-29500}" \
        "$CF_MM_ROOT/tools/$tool" "$@"
}

# slurm_launch PARTITION JOB_NAME TOOL ARGS...: tools/TOOL under srun with
# GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and SRUN_ARGS, as mmpretrain.
slurm_launch() {
    local partition=$1 job_name=$2 tool=$3
    shift 3
    # SRUN_ARGS is split into words on purpose (several srun options).
    # shellcheck disable=SC2086
    srun -p "$partition" \
        --job-name="$job_name" \
        --gres=gpu:"${GPUS_PER_NODE:-8}" \
        --ntasks="${GPUS:-8}" \
        --ntasks-per-node="${GPUS_PER_NODE:-8}" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "$PYTHON" -u "$CF_MM_ROOT/tools/$tool" "$@"
}
