/**
 * The inputs a release carries for `npm run rebuild`: the matrix and every file it names,
 * written back somewhere else, load into the same variants, the same builder and the same
 * source identity — and a carried file that is not ours or not what it claims is refused.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../pipeline/config/load.ts';
import { builderDigest } from '../../pipeline/image/builder-image.ts';
import { checkCarriedConfig, collectInputs, writeInputs } from '../../pipeline/release/release-inputs.ts';
import { sourceIdentity } from '../../pipeline/source/materialize.ts';
import { REPO } from '../helpers/config.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const CI_MATRIX = join(REPO, 'test/fixtures/ci-matrix.yaml');

/** ci-matrix.yaml beside a patch of its own, as a user's matrix with extra patches would be. */
function matrixWithPatch(root: string): string {
  const dir = join(root, 'project');
  mkdirSync(join(dir, 'patches'), { recursive: true });
  writeFileSync(join(dir, 'patches', 'fix.patch'), '--- a/x\n+++ b/x\n');
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys', 'lab.pem'), readFileSync(join(REPO, 'test/fixtures/secureboot/lab.pem')));
  const text = readFileSync(CI_MATRIX, 'utf8')
    .replace('dockerfile: ../../dockerfiles/builder', `dockerfile: ${join(REPO, 'dockerfiles/builder')}`)
    .replace('patches: []', 'patches: [patches/fix.patch]')
    .replaceAll('file: secureboot/lab.pem', 'file: keys/lab.pem');
  writeFileSync(join(dir, 'matrix.yaml'), text);
  return join(dir, 'matrix.yaml');
}

describe('release inputs', () => {
  it('write back into a matrix with the same variants, builder digest and source identity', async () => {
    const root = tempDir('inputs-');
    const original = loadConfig(matrixWithPatch(root));
    const inputs = await collectInputs(original);
    expect(inputs.files.map((f) => f.path)).toEqual(expect.arrayContaining(['builder/Dockerfile', 'builder/packages.lock', 'patches/1/fix.patch']));
    expect(inputs.files.filter((f) => f.path.startsWith('keysets/'))).toHaveLength(1);
    const back = loadConfig(await writeInputs(inputs, join(root, 'elsewhere')));
    expect(back.variants.map((v) => v.id)).toEqual(original.variants.map((v) => v.id));
    expect(back.variants.map((v) => [v.defines, v.pcds, v.platform.dsc, v.keySets.map((k) => k.name)]))
      .toEqual(original.variants.map((v) => [v.defines, v.pcds, v.platform.dsc, v.keySets.map((k) => k.name)]));
    const certs = (c: typeof back) => c.variants.flatMap((v) => v.keySets.flatMap((k) => [k.pk, ...k.kek, ...k.db].map((x) => (x.source.kind === 'file' ? x.source.sha256 : x.source.path))));
    expect(certs(back)).toEqual(certs(original));
    expect(builderDigest(back.builder)).toBe(builderDigest(original.builder));
    const quiet = { info: () => {}, warn: () => {} };
    expect(await sourceIdentity(back.source, root, quiet)).toEqual(await sourceIdentity(original.source, root, quiet));
    expect(back.installPrefix).toBe(original.installPrefix);
  });

  it('keeps the matrix\'s comments and names no path of the machine that assembled it', async () => {
    const root = tempDir('inputs-');
    const inputs = await collectInputs(loadConfig(matrixWithPatch(root)));
    expect(inputs.matrix).toContain('# The matrix the integration tests build');
    expect(inputs.matrix).not.toContain(root);
    expect(inputs.matrix).not.toContain(REPO);
  });

  it('refuses a carried file outside its folders, or whose bytes are not its digest', async () => {
    const inputs = await collectInputs(loadConfig(CI_MATRIX));
    const outside = { ...inputs, files: [...inputs.files, { ...inputs.files[0]!, path: 'builder/../../etc/x' }] };
    await expect(writeInputs(outside, tempDir('inputs-'))).rejects.toThrow(/input file named "builder\/..\/..\/etc\/x", which is not a plain file below builder\/, patches\/ or keysets\//);
    const altered = { ...inputs, files: [{ ...inputs.files[0]!, data: Buffer.from('other').toString('base64') }, ...inputs.files.slice(1)] };
    await expect(writeInputs(altered, tempDir('inputs-'))).rejects.toThrow(/whose bytes do not match its sha256/);
  });

  describe('a matrix its publisher wrote, before a rebuild uses it', () => {
    const carried = async (edit: (matrix: string) => string) => {
      const inputs = await collectInputs(loadConfig(CI_MATRIX));
      const dir = tempDir('inputs-');
      return { dir, config: loadConfig(await writeInputs({ ...inputs, matrix: edit(inputs.matrix) }, dir)) };
    };

    it('is accepted as assemble wrote it', async () => {
      const { dir, config } = await carried((m) => m);
      expect(() => checkCarriedConfig(config, dir)).not.toThrow();
    });

    it.each([
      ['a patch outside what it carries', (m: string) => m.replace('patches: []', `patches: [${join(REPO, 'package.json')}]`), /names a patch outside what it carries/],
      ['a builder context of the machine', (m: string) => m.replace('dockerfile: builder', `dockerfile: ${join(REPO, 'dockerfiles/builder')}`), /builds its builder from .*, not from the builder context it carries/],
      ['another container\'s network', (m: string) => m.replace('network: host', 'network: container:other'), /asks for the builder network container:other/],
      ['a local archive', (m: string) => m.replace(/ {2}debian:[\s\S]*?\n {2}# Instead/, `  archive: { url: ${join(REPO, 'package.json')}.tar.xz, sha256: ${'a'.repeat(64)} }\n  # Instead`), /./],
    ])('refuses %s', async (_what, edit, message) => {
      let refused: unknown;
      try {
        const { dir, config } = await carried(edit);
        checkCarriedConfig(config, dir);
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toMatch(message);
    });
  });
});
