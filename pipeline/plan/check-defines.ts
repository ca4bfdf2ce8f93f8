/**
 * Refuses a `-D` define that a variant's platform DSC does not understand, with the position
 * in matrix.yaml that set it. Runs after the source is verified and before any container.
 */
import type { DefineCatalog, MatrixConfig, Variant } from '../domain.ts';
import { ConfigError } from '../errors.ts';

export function checkDefines(config: MatrixConfig, variants: readonly Variant[], catalog: DefineCatalog): void {
  for (const v of variants) {
    const known = catalog[v.platform.dsc];
    if (!known) {
      throw new ConfigError(`${v.id}: the source has no ${v.platform.dsc}`, config.locate(v.dscOrigin), v.dscOrigin.join('.'),
        'this edk2 release does not ship that platform: drop the architecture or pick another source');
    }
    for (const name of Object.keys(v.defines)) {
      if (known.includes(name)) continue;
      const path = v.defineOrigins[name] ?? ['matrix'];
      const near = known.filter((k) => k.includes(name.split('_')[0]!)).slice(0, 6);
      throw new ConfigError(`${v.id}: ${v.platform.dsc} does not declare the define ${name}`, config.locate(path, 'key'),
        path.join('.'), near.length ? `did you mean one of ${near.join(', ')}?` : 'check the name against the DSC\'s [Defines] section');
    }
  }
}
