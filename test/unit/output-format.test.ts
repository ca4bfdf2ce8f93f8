/**
 * OUTPUT_FORMAT_VERSION guards what the recipe cannot show: the code that writes a variant's
 * files from its recipe (manifest, padding, copying out). This renders one variant with fixed
 * inputs through the real export code and compares digests with the ones recorded below:
 * output that changes while the recipe did not must come with a bump of the version (so every
 * content key changes and nothing stale is served from a cache).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { REPO_CERTS } from '../../pipeline/config/key-sets.ts';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { Container } from '../../pipeline/engine/engine.ts';
import { collectVariantFiles } from '../../pipeline/export/export-variant.ts';
import { RUN_RECORDS } from '../../pipeline/layout.ts';
import { OUTPUT_FORMAT_VERSION } from '../../pipeline/plan/cache-key.ts';
import { planVariants } from '../../pipeline/plan/plan-variants.ts';
import { FAKE_IMAGE, FAKE_SOURCE } from '../helpers/fake-artifacts.ts';
import { parse, withMatrix } from '../helpers/config.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** Update after a deliberate change: `version` with OUTPUT_FORMAT_VERSION, the digests with what the test prints. */
const RECORDED = {
  version: 6,
  recipe: '9e725411a4969822e4a60d47bcbd51ba5cd3515a09e9d780f8874b5189168e6b',
  output: '132982ddb9616b4e7ef04d058fbd17888858d819aa340ee44f96b903e6079569',
};

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A stopped build container: made-up firmware at every path the recipe asks for, the snakeoil certificate for every certificate. */
function container(): Container {
  const pem = readFileSync(REPO_CERTS.snakeoil.path);
  return {
    getArchive: async (path: string) => {
      const tar = pack();
      const data = /\.(fd|raw|efi)$/.test(path) ? Buffer.from(`firmware at ${path}`) : pem;
      tar.entry({ name: path.split('/').pop()!, size: data.length }, data);
      tar.finalize();
      return tar as unknown as Readable;
    },
  } as unknown as Container;
}

describe('output format', () => {
  it('changes the rendered output of fixed inputs only with a bump of OUTPUT_FORMAT_VERSION', async () => {
    const variants = parse(withMatrix('  arch: [AARCH64]\n  features: [secureboot]\n  target: [DEBUG]\n')).variants;
    const [plan] = planVariants(variants, { sourceKey: 's', builderDigest: 'b'.repeat(64), sourceDateEpoch: 1735689600, installPrefix: '/usr/share/edk2-matrix/{id}', threads: 2 });
    const log = join(tempDir('format-'), 'build.log');
    writeFileSync(log, 'a build\n');
    const files = await collectVariantFiles({ plan: { ...plan!, key: 'k'.repeat(64) }, container: container(), seconds: 1, source: FAKE_SOURCE, image: FAKE_IMAGE, logPath: log });
    const output = files.filter((f) => !RUN_RECORDS.includes(f.name)).map((f) => `${f.name} ${f.mode ?? ''} ${sha(Buffer.from(f.data))}`).join('\n');
    const now = { version: OUTPUT_FORMAT_VERSION, recipe: sha(JSON.stringify(plan!.recipe)), output: sha(output) };
    if (now.recipe === RECORDED.recipe && now.output !== RECORDED.output) {
      expect(now.version, `the files written from an unchanged recipe changed (${output.split('\n').length} files): bump OUTPUT_FORMAT_VERSION in plan/cache-key.ts, then record ${JSON.stringify(now)} here`).not.toBe(RECORDED.version);
    }
    expect(now, 'record the new digests in RECORDED (a changed recipe changes the content key by itself)').toEqual(RECORDED);
  });
});
