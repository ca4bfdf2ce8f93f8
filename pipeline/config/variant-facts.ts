/** Questions about a variant that several stages ask: one answer each, in one place. */
import type { Variant } from '../domain.ts';
import { archFacts } from '../platforms.ts';

/** A boolean define set to TRUE (edk2 compares them case-insensitively). */
export const isTrue = (v: Variant, name: string): boolean => v.defines[name]?.toUpperCase() === 'TRUE';
export const isX86 = (v: Variant): boolean => archFacts(v.arch).x86;
/** Built with SMM: QEMU must run it on q35 with `smm=on` and a secure pflash. */
export const isSmm = (v: Variant): boolean => isTrue(v, 'SMM_REQUIRE');
