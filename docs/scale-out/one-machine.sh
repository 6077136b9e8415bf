#!/bin/bash
# The same split on one machine: n processes, each with its own backend and copy of the model
# (memory: n x the model), then the merge. `patchlens patch --workers` (threads in one process)
# is the lighter choice where it exists; this form needs nothing but the shell.
#   MODEL=/path/to/gpt2 SHARDS=4 bash one-machine.sh
set -euo pipefail
MODEL=${MODEL:-models/gpt2}
SHARDS=${SHARDS:-4}
RESULTS=${RESULTS:-results}
PATCH=${PATCH:-all}
mkdir -p "$RESULTS"

seq 0 $((SHARDS - 1)) | xargs -P "$SHARDS" -I{} \
  patchlens patch --model "$MODEL" \
  --clean "When John and Mary went to the shops, John gave the bag to" \
  --corrupted "When John and Mary went to the shops, Mary gave the bag to" \
  --answer " Mary" --wrong " John" --patch "$PATCH" \
  --shard "{}/$SHARDS" --checkpoint "$RESULTS/shard-{}.checkpoint" --out "$RESULTS/shard-{}.json"
# GNU parallel, equivalently:
#   parallel patchlens patch --model "$MODEL" ... --shard {}/$SHARDS --out "$RESULTS/shard-{}.json" ::: $(seq 0 $((SHARDS - 1)))

patchlens merge "$RESULTS"/shard-*.json --out "$RESULTS/result.json" --svg "$RESULTS/svg"
