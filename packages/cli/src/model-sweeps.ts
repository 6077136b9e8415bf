import { UsageError } from './usage-error.js';

/**
 * The requested sweeps (or attribution kinds) that exist on this model. A parallel block (GPT-NeoX)
 * has no `hook_resid_mid`: a request for every sweep leaves `resid_mid` out; naming it is an error.
 *
 * @param command - the command that ran (`patch`, `attribute`), for the message.
 * @param flag - the flag that named the sweeps (`--patch`, `--kinds`).
 * @param hookNames - the model's hook points.
 * @param requested - the sweeps asked for.
 * @param everySweep - how many sweeps "all" means (a request of that many is "all").
 * @throws UsageError when resid_mid is named on a model without it.
 */
export function sweepsForModel<Name extends string>(
  command: string,
  flag: string,
  hookNames: readonly string[],
  requested: readonly Name[],
  everySweep: number,
): Name[] {
  if (hookNames.includes('blocks.0.hook_resid_mid') || !requested.includes('resid_mid' as Name)) {
    return [...requested];
  }
  if (requested.length !== everySweep) {
    throw new UsageError(
      `patchlens ${command}: ${flag} resid_mid does not apply to this model: its attention and MLP run in parallel on resid_pre, so there is no resid_mid (TransformerLens raises KeyError too); use resid_pre, attn_out or mlp_out.`,
    );
  }
  return requested.filter((name) => name !== 'resid_mid');
}
