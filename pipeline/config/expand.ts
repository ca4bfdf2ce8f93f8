/**
 * Expands the matrix axes (arch × feature combinations × target, then exclude, then include)
 * into fully resolved variants. Pure: every problem is reported through `fail` with the path
 * of the text that caused it.
 */
import type { Arch, Assignments, KeySet, Target, Variant } from '../domain.ts';
import { dscsFor, platformFor } from '../platforms.ts';
import { checkVariantRules } from './rules.ts';
import type { RawConfig, RawSelector } from './schema.ts';
import type { Path } from './locate.ts';

export type Fail = (path: Path, detail: string, hint?: string) => never;

interface Candidate {
  readonly arch: Arch;
  readonly features: readonly string[];
  readonly target: Target;
  /** Where this candidate came from, for error positions. */
  readonly origin: Path;
}

export const NO_FEATURES = 'none';

export function variantId(arch: Arch, features: readonly string[], target: Target): string {
  return [arch.toLowerCase(), ...features, target.toLowerCase()].join('-');
}

/** `secureboot+network` → ['secureboot', 'network']; `none` → []. */
export function parseCombination(combo: string, raw: RawConfig, path: Path, fail: Fail): string[] {
  if (combo === NO_FEATURES) return [];
  const names = combo.split('+').map((n) => n.trim());
  const known = Object.keys(raw.features);
  for (const name of names) {
    if (!(name in raw.features)) {
      fail(path, `unknown feature set "${name}"`, known.length
        ? `feature sets declared under features: ${known.join(', ')}; or use ${NO_FEATURES}`
        : `declare it under features:, or use ${NO_FEATURES}`);
    }
  }
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) fail(path, `feature set "${repeated}" appears twice in "${combo}"`, 'name each set once');
  return names;
}

const asList = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v as T];

function matches(selector: RawSelector, c: Candidate, raw: RawConfig, path: Path, fail: Fail): boolean {
  const arches = asList(selector.arch);
  if (arches && !arches.includes(c.arch)) return false;
  const targets = asList(selector.target);
  if (targets && !targets.includes(c.target)) return false;
  const combos = asList(selector.features);
  if (!combos) return true;
  return combos.some((combo, i) => {
    const names = parseCombination(combo, raw, [...path, 'features', ...(Array.isArray(selector.features) ? [i] : [])], fail);
    return names.length === 0 ? c.features.length === 0 : names.every((n) => c.features.includes(n));
  });
}

function candidates(raw: RawConfig, fail: Fail): Candidate[] {
  const m = raw.matrix;
  const out: Candidate[] = [];
  m.arch.forEach((arch, ai) => {
    m.features.forEach((combo, fi) => {
      const features = parseCombination(combo, raw, ['matrix', 'features', fi], fail);
      for (const target of m.target) out.push({ arch, features, target, origin: ['matrix', 'arch', ai] });
    });
  });
  const kept = out.filter(
    (c) => !m.exclude.some((sel, i) => matches(sel, c, raw, ['matrix', 'exclude', i], fail)),
  );
  m.include.forEach((sel, i) => {
    const path: Path = ['matrix', 'include', i];
    const arches = asList(sel.arch) ?? m.arch;
    const targets = asList(sel.target) ?? m.target;
    const combos = asList(sel.features) ?? [NO_FEATURES];
    for (const arch of arches)
      for (const combo of combos) {
        const features = parseCombination(combo, raw, [...path, 'features'], fail);
        for (const target of targets) kept.push({ arch, features, target, origin: path });
      }
  });
  return kept;
}

function merge(
  layers: readonly { readonly values: Readonly<Record<string, boolean | number | string>>; readonly path: Path; readonly exclusive: boolean }[],
  id: string,
  kind: 'define' | 'PCD',
  fail: Fail,
): Assignments {
  const out: Record<string, string> = {};
  const setBy: Record<string, Path> = {};
  for (const layer of layers) {
    for (const [name, value] of Object.entries(layer.values)) {
      const v = normaliseValue(value);
      const earlier = setBy[name];
      if (layer.exclusive && earlier && out[name] !== v && earlier[0] === 'features') {
        fail([...layer.path, name], `${id}: ${kind} ${name}=${v} contradicts ${name}=${out[name]} set by ${earlier.slice(0, 2).join('.')}`,
          'feature sets combined in one variant must agree on every value');
      }
      out[name] = v;
      setBy[name] = layer.path;
    }
  }
  return out;
}

export function normaliseValue(value: boolean | number | string): string {
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return String(value);
}

/** The key sets the variant's feature sets ask for, each once, in matrix order. */
function keySetsOf(raw: RawConfig, c: Candidate, id: string, secureBoot: boolean, known: Readonly<Record<string, KeySet>>, fail: Fail): KeySet[] {
  const out: KeySet[] = [];
  for (const f of c.features) {
    raw.features[f]!.enroll.forEach((name, i) => {
      const set = known[name];
      if (!set) {
        fail(['features', f, 'enroll', i], `unknown key set "${name}"`, `key sets: ${Object.keys(known).join(', ')} (declare your own under keysets:)`);
      }
      if (!secureBoot) {
        fail(['features', f, 'enroll', i], `${id}: enrolling keys needs SECURE_BOOT_ENABLE`, 'enroll key sets only in secure-boot feature sets');
      }
      if (!out.some((s) => s.name === name)) out.push(set);
    });
  }
  return out;
}

function resolve(raw: RawConfig, c: Candidate, fail: Fail, keySets: Readonly<Record<string, KeySet>>): Variant {
  const id = variantId(c.arch, c.features, c.target);
  const archDecl = raw.architectures[c.arch];
  if (!archDecl) {
    fail(c.origin, `architecture ${c.arch} is not declared under architectures:`,
      `add "${c.arch}: { dsc: ${dscsFor(c.arch)[0] ?? '...'} }" to architectures`);
  }
  let dsc = archDecl.dsc;
  let dscPath: Path = ['architectures', c.arch, 'dsc'];
  for (const name of c.features) {
    const override = raw.features[name]?.dsc[c.arch];
    if (!override) continue;
    if (dscPath[0] === 'features' && override !== dsc) {
      fail(['features', name, 'dsc', c.arch], `${id}: feature sets want different DSCs (${dsc} and ${override})`,
        'combine only feature sets that agree on the platform');
    }
    dsc = override;
    dscPath = ['features', name, 'dsc', c.arch];
  }
  const platform = platformFor(dsc, c.arch);
  if (!platform) {
    fail(dscPath, `${id}: ${dsc} does not build ${c.arch} firmware`,
      `DSCs for ${c.arch}: ${dscsFor(c.arch).join(', ')}`);
  }
  const defineLayers = [
    { values: raw.defines, path: ['defines'] as Path, exclusive: false },
    { values: archDecl.defines, path: ['architectures', c.arch, 'defines'] as Path, exclusive: false },
    ...c.features.map((f) => ({ values: raw.features[f]!.defines, path: ['features', f, 'defines'] as Path, exclusive: true })),
  ];
  const pcdLayers = [
    { values: raw.pcds, path: ['pcds'] as Path, exclusive: false },
    { values: archDecl.pcds, path: ['architectures', c.arch, 'pcds'] as Path, exclusive: false },
    ...c.features.map((f) => ({ values: raw.features[f]!.pcds, path: ['features', f, 'pcds'] as Path, exclusive: true })),
  ];
  const defineOrigins: Record<string, Path> = {};
  for (const layer of defineLayers) for (const name of Object.keys(layer.values)) defineOrigins[name] = [...layer.path, name];
  const defines = merge(defineLayers, id, 'define', fail);
  const variant: Variant = {
    id,
    arch: c.arch,
    target: c.target,
    toolchain: raw.toolchain,
    features: c.features,
    platform,
    defines,
    pcds: merge(pcdLayers, id, 'PCD', fail),
    defineOrigins,
    dscOrigin: dscPath,
    keySets: keySetsOf(raw, c, id, defines.SECURE_BOOT_ENABLE?.toUpperCase() === 'TRUE', keySets, fail),
  };
  const broken = checkVariantRules(variant);
  if (broken) fail(defineOrigins[broken.define] ?? c.origin, `${id}: ${broken.reason}`, broken.hint);
  return variant;
}

/** All variants of the matrix, in declaration order, ids unique. */
export function expandMatrix(raw: RawConfig, fail: Fail, keySets: Readonly<Record<string, KeySet>> = {}): Variant[] {
  const list = candidates(raw, fail);
  if (list.length === 0) {
    fail(['matrix'], 'the matrix expands to no variant', 'check matrix.exclude: it removes every combination');
  }
  const seen = new Map<string, Path>();
  const variants: Variant[] = [];
  for (const c of list) {
    const v = resolve(raw, c, fail, keySets);
    if (seen.has(v.id)) {
      // A combination listed twice (or an include that repeats the product) is almost always a slip.
      fail(c.origin, `variant ${v.id} is declared twice`, 'remove the repeated include or combination');
    }
    seen.set(v.id, c.origin);
    variants.push(v);
  }
  return variants;
}
