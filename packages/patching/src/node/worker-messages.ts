/** What the calling thread and a fast-engine worker send each other. */
import type { HookName, ModelWorkerSource } from '@patchlens/tensor-hooks';
import type { PatchJob } from '../patch-job.js';
import type { MetricRecipe } from '../patching-metric.js';
import type { SweepPlan } from '../sweep-plan.js';

/** A tensor's data and shape. */
export interface PlainTensor {
  readonly shape: number[];
  readonly data: Float32Array | Int32Array;
}

/** The worker's `workerData`. */
export interface WorkerStart {
  readonly backend: string;
  readonly model: ModelWorkerSource;
  readonly functionName: string;
  readonly tokens: PlainTensor;
  readonly clean: [HookName, PlainTensor][];
  readonly metric: MetricRecipe;
  readonly jobs: PatchJob[];
  readonly plan: SweepPlan;
  /** Indices into `plan.passes` this worker may be handed (its capture covers them). */
  readonly passes: readonly number[];
}

/** Worker -> calling thread. */
export type WorkerReply =
  | { readonly type: 'pass'; readonly pass: number; readonly values: Float32Array }
  | { readonly type: 'next' }
  | { readonly type: 'done' }
  | {
      readonly type: 'error';
      readonly name: string;
      readonly message: string;
      readonly stack?: string;
    };
