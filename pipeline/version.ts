/** This package's own version, as recorded in releases, SBOMs and provenance. */
import pkg from '../package.json' with { type: 'json' };

export const GENERATOR_VERSION: string = pkg.version;
