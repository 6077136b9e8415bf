#!/bin/bash
# One sweep split into 8 shards, run as a Slurm job array: task i runs shard i/8
# (`--shard auto` reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT).
# Submit with slurm-submit.sh, which also queues the merge after every task succeeded.
#SBATCH --job-name=patchlens-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --requeue
#SBATCH --output=patchlens-%A_%a.log
set -euo pipefail

# A checkpoint folder on a shared file system, or an http(s) URL of one (the same for every task).
MODEL=${MODEL:-/shared/models/gpt2}
RESULTS=${RESULTS:-/shared/results/patchlens-$SLURM_ARRAY_JOB_ID}
mkdir -p "$RESULTS"

# --checkpoint: a requeued or resubmitted task resumes where it stopped.
patchlens patch --model "$MODEL" \
  --clean "When John and Mary went to the shops, John gave the bag to" \
  --corrupted "When John and Mary went to the shops, Mary gave the bag to" \
  --answer " Mary" --wrong " John" \
  --patch all \
  --shard auto \
  --checkpoint "$RESULTS/shard-$SLURM_ARRAY_TASK_ID.checkpoint" \
  --out "$RESULTS/shard-$SLURM_ARRAY_TASK_ID.json"
