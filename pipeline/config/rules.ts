/**
 * Combinations of defines that build but make no sense, or cannot build, with the reason a
 * user is told. Checked for every variant before anything starts.
 */
import type { Variant } from '../domain.ts';
import { isTrue, isX86 } from './variant-facts.ts';

export interface BrokenRule {
  /** The define to point at. */
  readonly define: string;
  readonly reason: string;
  readonly hint: string;
}

interface Rule {
  readonly define: string;
  readonly broken: (v: Variant) => boolean;
  readonly reason: (v: Variant) => string;
  readonly hint: string;
}

const rules: readonly Rule[] = [
  {
    define: 'SMM_REQUIRE',
    broken: (v) => isTrue(v, 'SMM_REQUIRE') && !isX86(v),
    reason: (v) => `SMM_REQUIRE needs x86 System Management Mode, which ${v.arch} does not have`,
    hint: 'exclude this combination in matrix.exclude, or drop SMM_REQUIRE from it',
  },
  {
    define: 'SMM_REQUIRE',
    broken: (v) => isTrue(v, 'SMM_REQUIRE') && v.arch === 'X64' && v.platform.dsc !== 'OvmfPkg/OvmfPkgIa32X64.dsc',
    reason: (v) => `SMM_REQUIRE on X64 is built with OvmfPkg/OvmfPkgIa32X64.dsc, not ${v.platform.dsc}`,
    hint: 'give the feature set "dsc: { X64: OvmfPkg/OvmfPkgIa32X64.dsc }"',
  },
  {
    define: 'FD_SIZE_2MB',
    broken: (v) => isTrue(v, 'FD_SIZE_2MB') && isTrue(v, 'FD_SIZE_4MB'),
    reason: () => 'FD_SIZE_2MB and FD_SIZE_4MB are both TRUE; an image has one size',
    hint: 'keep one of the two',
  },
  ...['FD_SIZE_2MB', 'FD_SIZE_4MB'].map((define) => ({
    define,
    broken: (v: Variant) => define in v.defines && v.platform.family !== 'ovmf',
    reason: (v: Variant) => `${define} sizes OVMF images; ${v.platform.dsc} has fixed ${(v.platform.code.padTo ?? 0) / 2 ** 20} MiB pflash`,
    hint: 'exclude this combination for every architecture but X64 and IA32 in matrix.exclude',
  })),
];

export function checkVariantRules(variant: Variant): BrokenRule | undefined {
  const rule = rules.find((r) => r.broken(variant));
  return rule && { define: rule.define, reason: rule.reason(variant), hint: rule.hint };
}
