#!/bin/bash
# Submits the shard array, then a merge job that starts only when every array task succeeded.
#   MODEL=/shared/models/gpt2 bash slurm-submit.sh
set -euo pipefail
here=$(dirname "$0")
array_job=$(sbatch --parsable "$here/slurm-sweep-array.sh")
array_job=${array_job%%;*} # --parsable prints "jobid[;cluster]"
results=${RESULTS:-/shared/results/patchlens-$array_job}
sbatch --dependency="afterok:$array_job" --job-name=patchlens-merge --output=patchlens-merge-%j.log \
  --wrap "patchlens merge \"$results\"/shard-*.json --out \"$results/result.json\" --svg \"$results/svg\""
echo "array job $array_job; results in $results"
