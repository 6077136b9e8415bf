import * as tf from '@tensorflow/tfjs-core';

/** Settings of {@link AdamOptimizer}. */
export interface AdamSettings {
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8. */
  readonly epsilon?: number;
  /** Decoupled weight decay (AdamW) for the variables `decays` selects; default 0. */
  readonly weightDecay?: number;
  /** Which variables get weight decay (by name); default none. */
  readonly decays?: (name: string) => boolean;
}

/**
 * Adam with bias correction and optional decoupled weight decay (AdamW), with the learning
 * rate passed per step (for warm-up and decay schedules, which tfjs's optimizers do not take).
 *
 * @example
 * ```ts
 * using optimizer = new AdamOptimizer(variables, { weightDecay: 0.01, decays: (n) => n.endsWith('.weight') });
 * const { grads } = tf.variableGrads(loss);
 * optimizer.step(grads, 1e-3);
 * ```
 *
 * Limitations: float32 variables; the moment estimates double the variables' memory twice over.
 */
export class AdamOptimizer {
  private readonly firstMoments = new Map<string, tf.Variable>();
  private readonly secondMoments = new Map<string, tf.Variable>();
  private stepCount = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly decays: (name: string) => boolean;

  /**
   * @param variables - the trainable variables by name.
   * @param settings - beta1 (0.9), beta2 (0.999), epsilon (1e-8), weightDecay (0), decays (none).
   */
  constructor(
    private readonly variables: ReadonlyMap<string, tf.Variable>,
    settings: AdamSettings = {},
  ) {
    this.beta1 = settings.beta1 ?? 0.9;
    this.beta2 = settings.beta2 ?? 0.999;
    this.epsilon = settings.epsilon ?? 1e-8;
    this.weightDecay = settings.weightDecay ?? 0;
    this.decays = settings.decays ?? (() => false);
    for (const [name, variable] of variables) {
      for (const moments of [this.firstMoments, this.secondMoments]) {
        const zeros = tf.zerosLike(variable);
        moments.set(name, tf.variable(zeros, false));
        zeros.dispose();
      }
    }
  }

  /**
   * Apply one update. Gradients are keyed by variable name (as `tf.variableGrads` returns them);
   * variables without a gradient are left as they are. The gradients are not disposed.
   *
   * @param gradients - gradient per variable name.
   * @param learningRate - this step's learning rate.
   */
  step(gradients: Readonly<Record<string, tf.Tensor>>, learningRate: number): void {
    this.stepCount += 1;
    const correction1 = 1 - this.beta1 ** this.stepCount;
    const correction2 = 1 - this.beta2 ** this.stepCount;
    tf.tidy(() => {
      for (const [name, variable] of this.variables) {
        const gradient = gradients[name];
        if (gradient === undefined) continue;
        const m = this.firstMoments.get(name)!;
        const v = this.secondMoments.get(name)!;
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(gradient, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2)));
        const denominator = tf.add(tf.sqrt(tf.div(v, correction2)), this.epsilon);
        let update = tf.div(tf.div(m, correction1), denominator);
        if (this.weightDecay > 0 && this.decays(name)) {
          update = tf.add(update, tf.mul(variable, this.weightDecay));
        }
        variable.assign(tf.sub(variable, tf.mul(update, learningRate)));
      }
    });
  }

  /** Free the moment estimates (not the variables). */
  dispose(): void {
    tf.dispose([...this.firstMoments.values(), ...this.secondMoments.values()]);
    this.firstMoments.clear();
    this.secondMoments.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
