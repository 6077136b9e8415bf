import { InvalidArgumentError } from '@patchlens/tensor-hooks';

/**
 * A Hugging Face `config.json` being read, with errors that name the field.
 *
 * @example
 * ```ts
 * const fields = new ConfigFields(json, 'readLlamaConfig');
 * const layers = fields.integer('num_hidden_layers');
 * ```
 */
export class ConfigFields {
  readonly values: Readonly<Record<string, unknown>>;
  private readonly where: string;

  /**
   * @param json - config.json as text or a parsed object.
   * @param where - the reader's name, for messages.
   * @throws InvalidArgumentError when it is not a JSON object.
   */
  constructor(json: unknown, where: string) {
    this.where = where;
    let value = json;
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json);
      } catch (error) {
        throw new InvalidArgumentError(
          `${where}: config.json is not valid JSON (${(error as Error).message}).`,
          { cause: error },
        );
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentError(`${where}: config.json must be a JSON object.`);
    }
    this.values = value as Record<string, unknown>;
  }

  /** True when the field is present and not null. */
  has(field: string): boolean {
    return this.values[field] !== undefined && this.values[field] !== null;
  }

  /** An integer >= 1 (or `fallback` when absent). */
  integer(field: string, fallback?: number): number {
    const value = this.values[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError(
        `${this.where}: config.json field "${field}" is ${JSON.stringify(value)}; expected an integer >= 1.`,
      );
    }
    return value;
  }

  /** A finite number (or `fallback` when absent). */
  number(field: string, fallback?: number): number {
    const value = this.values[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidArgumentError(
        `${this.where}: config.json field "${field}" is ${JSON.stringify(value)}; expected a number.`,
      );
    }
    return value;
  }

  /** A boolean (or `fallback` when absent). */
  boolean(field: string, fallback: boolean): boolean {
    const value = this.values[field] ?? fallback;
    if (typeof value !== 'boolean') {
      throw new InvalidArgumentError(
        `${this.where}: config.json field "${field}" is ${JSON.stringify(value)}; expected true or false.`,
      );
    }
    return value;
  }

  /** A string among `accepted` (or `fallback` when absent). */
  oneOf<T extends string>(field: string, accepted: readonly T[], fallback?: T): T {
    const value = this.values[field] ?? fallback;
    if (typeof value !== 'string' || !(accepted as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(
        `${this.where}: config.json field "${field}" is ${JSON.stringify(value)}; supported: ${accepted.join(', ')}.`,
      );
    }
    return value as T;
  }

  /** Throws naming `field` when it is present and not null (an option the decoder does not implement). */
  unsupported(field: string, why: string): void {
    if (this.has(field)) {
      throw new InvalidArgumentError(
        `${this.where}: config.json field "${field}" is ${JSON.stringify(this.values[field])}; ${why}`,
      );
    }
  }

  /** The optional integer `bos_token_id`. */
  bosTokenId(): number | undefined {
    const value = this.values.bos_token_id;
    return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
  }
}

/**
 * The family a config.json belongs to: the first of `families` whose `architectures` contains
 * `architectures[0]`, else whose `modelTypes` contains `model_type`.
 *
 * @throws InvalidArgumentError naming `architectures`/`model_type` and the supported values.
 * @example
 * ```ts
 * pickFamily(json, [LLAMA_FAMILY, NEOX_FAMILY]).name; // 'llama'
 * ```
 */
export function pickFamily<
  F extends { architectures: readonly string[]; modelTypes: readonly string[] },
>(json: unknown, families: readonly F[], where = 'pickFamily'): F {
  const fields = new ConfigFields(json, where);
  const architectures = fields.values.architectures;
  const architecture = Array.isArray(architectures) ? architectures[0] : undefined;
  const modelType = fields.values.model_type;
  const found =
    families.find((family) => family.architectures.includes(architecture as string)) ??
    families.find((family) => family.modelTypes.includes(modelType as string));
  if (!found) {
    throw new InvalidArgumentError(
      `${where}: config.json has architectures ${JSON.stringify(architectures ?? null)} and model_type ${JSON.stringify(modelType ?? null)}; supported architectures: ${families.flatMap((family) => family.architectures).join(', ')} (model_type ${families.flatMap((family) => family.modelTypes).join(', ')}).`,
    );
  }
  return found;
}
