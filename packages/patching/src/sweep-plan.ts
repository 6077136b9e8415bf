/**
 * The fast engine's planner: which forward passes a sweep runs, from where, with which patches,
 * on which worker, and which patches need no pass at all. Pure: numbers in, a plan out, no
 * tensors (unit-tested in sweep-plan.test.ts).
 *
 * The shortcuts are exact because of these facts (each guarded by the named test):
 * 1. A patch at a hook of block L changes nothing before block L, so a pass may start at block L
 *    from the corrupted run's residual stream entering it — captured by a hook placed before any
 *    other hook at `hook_resid_pre`, so user hooks there still run exactly once.
 *    Guard: the parity suite's "<sweep>: shape, index order, hand-written patches, fast ==
 *    reference, no leaks" (toy-model-parity, gpt2-parity, transformerlens-fixture) and its
 *    "fast == reference when the metric reads an earlier position, and with a user hook attached".
 * 2. Batch rows are independent: K patches run as one pass of K×B rows, replica k = rows k·B…k·B+B-1.
 *    Guard: fast-engine.test.ts "gives the same values for every batch size K, and on a model
 *    without shortcuts".
 * 3. Attention is causal: a patch at position p leaves every position < p as in the corrupted run,
 *    so a pass may compute positions >= p only, reusing the corrupted keys/values before p.
 *    Guard: models-gpt2 gpt2-start-at-position.test.ts (the forward) and the parity suite's
 *    per-sweep test (batchSize 1: every pass starts at its patch's position, values unchanged).
 * 4. LayerNorm and the unembedding act per position, so the logits a metric reads need only those
 *    positions (selective unembedding; start positions capped at the first position read).
 *    Guard: the parity suite's "fast == reference when the metric reads an earlier position …".
 * 5. A patch whose clean and corrupted activations are bitwise equal over its coordinates writes
 *    the values already there, so its patched run is the corrupted run: its value is the corrupted
 *    metric, computed once (`skipped`). Guard: sweep-skip.test.ts (skips with exact values, and a
 *    pair where nothing can be skipped).
 * 6. Each worker holds a model built from the same bytes and runs whole passes; a pass's values do
 *    not depend on which worker runs it. Guard: sweep-workers.test.ts "workers: 2 gives the
 *    values of one worker …" and gpt2-parity.test.ts on wasm (every sweep with `workers: 2`).
 */
import { InvalidArgumentError, type ModelConfig } from '@patchlens/tensor-hooks';

/** What the planner knows about one patch (no tensors). */
export interface PatchFacts {
  /** Block whose `hook_resid_pre` a pass for this patch may start at; undefined: from the tokens. */
  readonly startLayer: number | undefined;
  /** The first position the patch changes (0 when unknown, e.g. function setters). */
  readonly firstChangedPosition: number;
  /** Clean and corrupted activations are bitwise equal over the patch's coordinates. */
  readonly unchanged: boolean;
}

/** Everything {@link planSweep} needs. */
export interface SweepPlanInput {
  readonly patches: readonly PatchFacts[];
  readonly config: Pick<ModelConfig, 'nLayers' | 'dModel' | 'dMlp' | 'nHeads' | 'dHead'> & {
    readonly nKeyValueHeads?: number | null;
  };
  readonly batch: number;
  readonly positions: number;
  /**
   * The first position the metric reads when passes may start at a later position (the model can,
   * the metric declares its positions, no user hook is attached); undefined: every pass starts at 0.
   */
  readonly firstReadPosition: number | undefined;
  /** Logits per batch row the metric needs (`positions × dVocab` for a function metric). */
  readonly logitsPerRow: number;
  /** Memory one worker's passes may use, captured corrupted run included. */
  readonly memoryBudgetBytes: number;
  /** Patches per pass forced by the caller; undefined: chosen from the budget. */
  readonly batchSize: number | undefined;
  /** The backend's cap on patches per pass. */
  readonly maxPatchesPerForward: number;
  /** Worker threads that run passes (1: the calling thread). */
  readonly workers: number;
  /**
   * A backend heap that cannot grow past this (wasm: 4 GiB) and the bytes already in it on each
   * worker (model weights, clean activations); undefined: no fixed limit.
   */
  readonly heap?: {
    readonly limitBytes: number;
    readonly fixedBytes: number;
    readonly name: string;
  };
}

/** One batched forward pass. */
export interface PlannedPass {
  /** The block it starts at; undefined: from the tokens. */
  readonly startLayer: number | undefined;
  /** The first position it computes (0: all). */
  readonly startPosition: number;
  /** Indices into `SweepPlanInput.patches`, one per replica, in replica order. */
  readonly patches: readonly number[];
  /** Estimated cost (position-rows × blocks), used to balance workers. */
  readonly cost: number;
}

/** A patch that runs in no pass, and why. */
export interface SkippedPatch {
  readonly patch: number;
  readonly reason: 'clean-equals-corrupted';
}

/** What {@link planSweep} decides. */
export interface SweepPlan {
  readonly passes: readonly PlannedPass[];
  /** Pass indices per worker (worker 0 first); a worker's list is in pass order. */
  readonly workerPasses: readonly (readonly number[])[];
  /** Patches whose value is the corrupted metric. */
  readonly skipped: readonly SkippedPatch[];
  /** Patches per pass (K). */
  readonly patchesPerForward: number;
  /** Blocks whose corrupted incoming residual stream the passes start from. */
  readonly residualLayers: readonly number[];
  /** Blocks whose corrupted keys/values passes that start at a position > 0 reuse. */
  readonly keyValueLayers: readonly number[];
  /** Bytes: the captured corrupted run, one replica's activations, and one worker's peak estimate. */
  readonly memory: {
    readonly capturedBytes: number;
    readonly bytesPerReplica: number;
    readonly peakBytes: number;
  };
}

/** Error of a sweep that cannot fit its memory limit, raised before any work. */
function tooBig(what: string, needed: number, limit: string, advice: string): never {
  const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)} MiB`;
  throw new InvalidArgumentError(
    `this sweep cannot run: ${what} needs ${mib(needed)} but ${limit}; ${advice}.`,
  );
}

/**
 * Bytes one replica (one patch × B prompts) of a pass keeps alive: the activations of one block
 * (residual, q/k/v/z, scores and pattern, MLP) plus the logits the metric needs, in float32.
 */
export function bytesPerReplica(input: SweepPlanInput): number {
  const { dModel, dMlp, nHeads, dHead } = input.config;
  const { positions, batch } = input;
  const activationFloats =
    positions * (6 * dModel + 2 * dMlp + 4 * nHeads * dHead + 3 * nHeads * positions);
  return 4 * batch * (activationFloats + 2 * input.logitsPerRow);
}

/**
 * Splits patches sorted by start position (`starts`, ascending) into consecutive batches of at
 * most `perForward`, each starting at its first patch's position. A batch costs about one
 * replica's full pass of fixed overhead plus `replicas × (positions - start)` position-rows, and the
 * split minimises the total (dynamic programming over the sorted list). When every patch starts
 * at 0 it is the plain split into batches of `perForward`.
 *
 * @returns `[begin, end)` ranges into `starts`, in order.
 */
export function planChunks(
  starts: readonly number[],
  perForward: number,
  positions: number,
): [number, number][] {
  const count = starts.length;
  const ranges: [number, number][] = [];
  if (starts.every((start) => start === 0)) {
    for (let begin = 0; begin < count; begin += perForward) {
      ranges.push([begin, Math.min(count, begin + perForward)]);
    }
    return ranges;
  }
  // best[i]: least cost of the first i patches; cut[i]: where its last batch begins
  const best = new Float64Array(count + 1).fill(Number.POSITIVE_INFINITY);
  const cut = new Int32Array(count + 1);
  best[0] = 0;
  for (let end = 1; end <= count; end++) {
    for (let begin = Math.max(0, end - perForward); begin < end; begin++) {
      const cost = best[begin]! + positions + (end - begin) * (positions - starts[begin]!);
      if (cost < best[end]!) {
        best[end] = cost;
        cut[end] = begin;
      }
    }
  }
  for (let end = count; end > 0; end = cut[end]!) ranges.push([cut[end]!, end]);
  return ranges.reverse();
}

/** Longest-processing-time-first: each pass (most costly first) to the least loaded worker. */
export function assignPasses(costs: readonly number[], workers: number): number[][] {
  const lists: number[][] = Array.from({ length: workers }, () => []);
  const load = new Float64Array(workers);
  const order = costs.map((_, pass) => pass).sort((a, b) => costs[b]! - costs[a]! || a - b);
  for (const pass of order) {
    let least = 0;
    for (let worker = 1; worker < workers; worker++)
      if (load[worker]! < load[least]!) least = worker;
    lists[least]!.push(pass);
    load[least] = load[least]! + costs[pass]!;
  }
  for (const list of lists) list.sort((a, b) => a - b);
  return lists;
}

/**
 * Plans a fast-engine sweep: skips patches that change nothing, groups the rest by start block,
 * orders each group by start position and cuts it into passes of at most K patches, and assigns
 * the passes to workers by estimated cost.
 *
 * @throws InvalidArgumentError (before any work) when the captured corrupted run and one replica
 * do not fit the memory budget or the backend's heap.
 */
export function planSweep(input: SweepPlanInput): SweepPlan {
  const { patches, positions, batch, config } = input;
  const skipped: SkippedPatch[] = [];
  const groups = new Map<number, number[]>(); // -1: from the tokens
  patches.forEach((facts, patch) => {
    if (facts.unchanged) {
      skipped.push({ patch, reason: 'clean-equals-corrupted' });
      return;
    }
    const key = facts.startLayer ?? -1;
    const group = groups.get(key);
    if (group) group.push(patch);
    else groups.set(key, [patch]);
  });
  const order = [...groups.keys()].sort((a, b) => a - b);
  const startPositionOf = (patch: number, layer: number) =>
    layer < 0 || input.firstReadPosition === undefined
      ? 0
      : Math.min(patches[patch]!.firstChangedPosition, input.firstReadPosition);
  let keyValueFrom = config.nLayers;
  for (const layer of order) {
    const group = groups.get(layer)!;
    // stable sort: patches of one position stay in sweep order
    group.sort((a, b) => startPositionOf(a, layer) - startPositionOf(b, layer));
    if (group.some((patch) => startPositionOf(patch, layer) > 0)) {
      keyValueFrom = Math.min(keyValueFrom, layer);
    }
  }
  const residualLayers = order.filter((layer) => layer >= 0);
  const keyValueLayers: number[] = [];
  for (let layer = keyValueFrom; layer < config.nLayers; layer++) keyValueLayers.push(layer);

  // memory: the captured run stays for the whole sweep; K replicas come on top
  const keyValueWidth = (config.nKeyValueHeads ?? config.nHeads) * config.dHead;
  const capturedBytes =
    4 *
    batch *
    positions *
    (residualLayers.length * config.dModel + 2 * keyValueLayers.length * keyValueWidth);
  const replicaBytes = bytesPerReplica(input);
  let budget = input.memoryBudgetBytes;
  const heap = input.heap;
  if (heap !== undefined && heap.fixedBytes + budget > heap.limitBytes) {
    budget = heap.limitBytes - heap.fixedBytes;
    if (capturedBytes + replicaBytes > budget) {
      tooBig(
        'the model, the clean activations, the captured corrupted run and one patch',
        heap.fixedBytes + capturedBytes + replicaBytes,
        `the ${heap.name} heap holds at most ${Math.floor(heap.limitBytes / 2 ** 20)} MiB`,
        'patch fewer positions (shorter prompts), fewer activations per sweep, or use a GPU backend (--backend tensorflow)',
      );
    }
  }
  if (capturedBytes + replicaBytes > budget) {
    tooBig(
      'the captured corrupted run and one patch',
      capturedBytes + replicaBytes,
      `the memory budget is ${Math.floor(budget / 2 ** 20)} MiB`,
      'raise memoryBudgetBytes (--memory-budget) or patch fewer positions',
    );
  }
  const fits = Math.floor((budget - capturedBytes) / replicaBytes);
  const planned = patches.length - skipped.length;
  let perForward = input.batchSize ?? Math.max(1, Math.min(input.maxPatchesPerForward, fits));
  if (input.batchSize === undefined && input.workers > 1) {
    // at least two passes per worker, so the split by cost can balance them
    perForward = Math.max(1, Math.min(perForward, Math.ceil(planned / (2 * input.workers))));
  }

  const passes: PlannedPass[] = [];
  for (const layer of order) {
    const group = groups.get(layer)!;
    const starts = group.map((patch) => startPositionOf(patch, layer));
    const blocks = config.nLayers - Math.max(0, layer);
    for (const [begin, end] of planChunks(starts, perForward, positions)) {
      const startPosition = starts[begin]!; // sorted: the smallest of the chunk
      passes.push({
        startLayer: layer < 0 ? undefined : layer,
        startPosition,
        patches: group.slice(begin, end),
        cost: blocks * (positions + (end - begin) * (positions - startPosition)),
      });
    }
  }
  const workers = Math.max(1, Math.min(input.workers, passes.length));
  return {
    passes,
    workerPasses: assignPasses(
      passes.map((pass) => pass.cost),
      workers,
    ),
    skipped,
    patchesPerForward: perForward,
    residualLayers,
    keyValueLayers,
    memory: {
      capturedBytes,
      bytesPerReplica: replicaBytes,
      peakBytes: capturedBytes + perForward * replicaBytes,
    },
  };
}
