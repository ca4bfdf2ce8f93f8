/**
 * Releases from shards, without an engine: artifacts directories in the real format with
 * stand-in firmware (test/helpers/fake-artifacts.ts), assembled, signed and verified by the
 * real code; every tamper drill is named by its broken link. The integration test
 * release-rehearsal.test.ts does the same with real builds, through the workflow's own steps.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { describe, expect, it } from 'vitest';
import type { ReleaseIndex } from '../../pipeline/domain.ts';
import type { ReleaseError } from '../../pipeline/errors.ts';
import { assembleRelease, type AssembleOptions } from '../../pipeline/release/assemble.ts';
import { sha256Hex } from '../../pipeline/checksums.ts';
import { formatSecretKey, generateKey, keyIdHex, parseSignature, signMessage, type SecretKey } from '../../pipeline/release/minisign.ts';
import { formatTrustedComment } from '../../pipeline/release/trusted-comment.ts';
import { DirectoryReader } from '../../pipeline/release/release-reader.ts';
import { signRelease } from '../../pipeline/release/sign-release.ts';
import { singleKeyStore } from '../../pipeline/release/trust.ts';
import { verifyRelease } from '../../pipeline/release/verify-release.ts';
import { parse, withMatrix } from '../helpers/config.ts';
import { FAKE_IMAGE, FAKE_NOTICES, FAKE_SOURCE, fakeVariants, writeFakeVariant } from '../helpers/fake-artifacts.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { pack } from 'tar-stream';
import { forgeRelease } from '../helpers/forge-release.ts';

const log = { info: () => {}, warn: () => {} };
const [x64, aarch64] = fakeVariants();
const key = generateKey();
const trust = singleKeyStore('test key', key);

/** Two shards, one variant each, as two CI jobs would upload them. */
async function shards(root: string, opts: { boot?: boolean } = {}): Promise<string[]> {
  const a = join(root, 'shard-x64');
  const b = join(root, 'shard-aarch64');
  await writeFakeVariant(a, x64!, { boot: opts.boot === false ? undefined : {} });
  await writeFakeVariant(b, aarch64!, { boot: opts.boot === false ? undefined : {} });
  return [a, b];
}

function options(from: string[], out: string, extra: Partial<AssembleOptions> = {}): AssembleOptions {
  return {
    from, out, config: undefined, tag: 'v2026.11.0', commit: 'c'.repeat(40), sourceDateEpoch: undefined,
    run: { builderId: 'urn:test', invocationId: undefined, repository: undefined }, notices: FAKE_NOTICES, log, ...extra,
  };
}

async function released(root: string): Promise<string> {
  const out = join(root, 'release');
  await assembleRelease(options(await shards(root), out));
  await signRelease(out, key);
  return out;
}

async function brokenLink(dir: string, k: SecretKey = key): Promise<string> {
  try {
    await verifyRelease(new DirectoryReader(dir), singleKeyStore('test key', k));
  } catch (err) {
    return (err as ReleaseError).link ?? String(err);
  }
  throw new Error('the release verified');
}

const fileOf = (dir: string, name: string) => readFileSync(join(dir, name));

describe('release assemble', () => {
  it('writes the release layout of docs/architecture.md from two shards', async () => {
    const out = await released(tempDir('rel-'));
    expect(readdirSync(out).sort()).toEqual([
      'SHA256SUMS', 'SHA256SUMS.minisig', 'aarch64-debug.cdx.json', 'aarch64-debug.tar.xz', 'index.json',
      'provenance.intoto.jsonl', 'x64-debug.cdx.json', 'x64-debug.tar.xz',
    ]);
    const index = JSON.parse(fileOf(out, 'index.json').toString()) as ReleaseIndex;
    expect(index.release).toMatchObject({ tag: 'v2026.11.0', commit: 'c'.repeat(40), sourceDateEpoch: 1735689600, builder: { digest: FAKE_IMAGE.digest, lock: FAKE_IMAGE.lock } });
    expect(index.variants.map((v) => v.id)).toEqual(['aarch64-debug', 'x64-debug']);
    expect(index.variants[1]!.files.map((f) => f.path)).toContain('x64-debug/OVMF_CODE.fd');
    // Boot results and build seconds depend on the run: they stay out of a release's index.
    expect(index.variants[1]).not.toHaveProperty('boot');
    expect(index.variants[1]).not.toHaveProperty('buildSeconds');
  });

  it('gives the same bytes for every asset when assembled again from the same shards', async () => {
    const root = tempDir('rel-');
    const from = await shards(root);
    await assembleRelease(options(from, join(root, 'one')));
    await assembleRelease(options(from, join(root, 'two')));
    for (const name of readdirSync(join(root, 'one'))) expect(fileOf(join(root, 'two'), name).equals(fileOf(join(root, 'one'), name)), name).toBe(true);
  });

  it('packs archives with sorted entries, owner 0:0 and every mtime at SOURCE_DATE_EPOCH', async () => {
    const out = await released(tempDir('rel-'));
    const listing = execFileSync('tar', ['-tvJf', join(out, 'x64-debug.tar.xz'), '--numeric-owner', '--full-time'], { env: { ...process.env, TZ: 'UTC' } }).toString().trim().split('\n');
    expect(listing[0]).toMatch(/^drwxr-xr-x 0\/0 +0 2025-01-01 00:00:00 x64-debug\/$/);
    const names = listing.slice(1).map((l) => l.split(' ').pop()!);
    expect(names).toEqual([...names].sort());
    expect(listing.find((l) => l.endsWith('/launch.sh'))).toMatch(/^-rwxr-xr-x 0\/0 /);
    expect(listing.every((l) => l.includes('2025-01-01 00:00:00'))).toBe(true);
  });

  it('refuses a variant that two shards built', async () => {
    const root = tempDir('rel-');
    const [a] = await shards(root);
    const again = join(root, 'again');
    cpSync(a!, again, { recursive: true });
    await expect(assembleRelease(options([a!, again], join(root, 'out')))).rejects.toThrow(/variant x64-debug: is in two shards: .*shard-x64 and .*again/);
    expect(existsSync(join(root, 'out'))).toBe(false);
  });

  it('refuses shards built from different sources or by different builders, naming both', async () => {
    const root = tempDir('rel-');
    const [a] = await shards(root);
    const other = join(root, 'other');
    await writeFakeVariant(other, aarch64!, { source: { ...FAKE_SOURCE, digests: [{ name: 'edk2_2022.11.orig.tar.xz', sha256: 'e'.repeat(64) }], description: 'debian edk2 2022.11-6' } });
    await expect(assembleRelease(options([a!, other], join(root, 'out')))).rejects.toThrow(/aarch64-debug: was built from debian edk2 2022.11-6 .*other.*one release, one source/);
    const image = join(root, 'image');
    await writeFakeVariant(image, aarch64!, { image: { ...FAKE_IMAGE, digest: '9'.repeat(64) } });
    await expect(assembleRelease(options([a!, image], join(root, 'out2')))).rejects.toThrow(/aarch64-debug: was built by builder 999999999999 .*one release, one builder/);
    // Another machine's image id for the same builder is fine: ids are local.
    const sameBuilder = join(root, 'same');
    await writeFakeVariant(sameBuilder, aarch64!, { image: { ...FAKE_IMAGE, id: `sha256:${'8'.repeat(64)}` } });
    await assembleRelease(options([a!, sameBuilder], join(root, 'out3')));
  });

  it('refuses, given --config, a variant the matrix declares that no shard built', async () => {
    const root = tempDir('rel-');
    const matrix = parse(withMatrix('  arch: [X64, AARCH64, IA32]\n  target: [DEBUG]\n'));
    await expect(assembleRelease(options(await shards(root), join(root, 'out'), { config: { matrix, shownPath: 'matrix.yaml' } })))
      .rejects.toThrow(/variant ia32-debug: is declared in matrix.yaml but no shard built it/);
  });

  it('re-verifies every file against its manifest before writing anything', async () => {
    const root = tempDir('rel-');
    const from = await shards(root);
    writeFileSync(join(from[0]!, 'x64-debug', 'OVMF_VARS.fd'), 'altered');
    await expect(assembleRelease(options(from, join(root, 'out')))).rejects.toThrow(/x64-debug: OVMF_VARS.fd does not match its sha256/);
    expect(readdirSync(root).sort()).toEqual(['shard-aarch64', 'shard-x64']);
  });

  it('refuses a variant whose boot verification failed', async () => {
    const root = tempDir('rel-');
    const a = join(root, 'a');
    await writeFakeVariant(a, x64!, { boot: { ok: false, reason: 'no UEFI Shell prompt within 300s' } });
    await expect(assembleRelease(options([a], join(root, 'out')))).rejects.toThrow(/boot verification failed \(no UEFI Shell prompt/);
  });

  it('refuses to write into a directory that is not empty', async () => {
    const root = tempDir('rel-');
    mkdirSync(join(root, 'out'));
    writeFileSync(join(root, 'out', 'keep'), 'mine');
    await expect(assembleRelease(options(await shards(root), join(root, 'out')))).rejects.toThrow(/is not empty/);
    expect(readdirSync(join(root, 'out'))).toEqual(['keep']);
  });
});

describe('release SBOM and provenance', () => {
  it('writes CycloneDX 1.6 SBOMs that the CycloneDX schema accepts, with source, libraries, toolchain and files', async () => {
    const out = await released(tempDir('rel-'));
    const text = fileOf(out, 'x64-debug.cdx.json').toString();
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const sbom = JSON.parse(text);
    expect(sbom.metadata.component).toMatchObject({ type: 'firmware', name: 'edk2-matrix-x64-debug', version: 'v2026.11.0' });
    const edk2 = sbom.components.find((c: { name: string }) => c.name === 'edk2');
    expect(edk2.purl).toBe('pkg:deb/debian/edk2@2025.02-8+deb13u1?arch=source');
    expect(edk2.components[0]).toMatchObject({ name: 'openssl', version: '3.4.0' });
    const code = sbom.components.find((c: { name: string }) => c.name === 'OVMF_CODE.fd');
    const index = JSON.parse(fileOf(out, 'index.json').toString()) as ReleaseIndex;
    expect(code.hashes[0].content).toBe(index.variants[1]!.files.find((f) => f.path === 'x64-debug/OVMF_CODE.fd')!.sha256);
    expect(sbom.formulation[0].components.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['gcc-14', 'nasm']));
  });

  it('writes an in-toto Statement v1 with SLSA v1 provenance whose subjects are every asset', async () => {
    const out = await released(tempDir('rel-'));
    const envelope = JSON.parse(fileOf(out, 'provenance.intoto.jsonl').toString());
    expect(envelope).toMatchObject({ payloadType: 'application/vnd.in-toto+json', signatures: [{ keyid: keyIdHex(key.keyId) }] });
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString());
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    const sums = fileOf(out, 'SHA256SUMS').toString().trim().split('\n').map((l) => l.split('  ').reverse());
    const subjects = statement.subject.map((s: { name: string; digest: { sha256: string } }) => [s.name, s.digest.sha256]);
    expect(subjects).toEqual(sums.filter(([name]) => name !== 'provenance.intoto.jsonl'));
    expect(statement.predicate.buildDefinition.externalParameters).toMatchObject({ tag: 'v2026.11.0', variants: ['aarch64-debug', 'x64-debug'] });
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual(expect.arrayContaining([
      { name: 'edk2_2025.02.orig.tar.xz', digest: { sha256: FAKE_SOURCE.digests[0]!.sha256 } },
      { name: 'edk2-matrix', digest: { gitCommit: 'c'.repeat(40) } },
    ]));
  });
});

describe('release sign and verify', () => {
  it('verifies a signed release, and sha256sum -c agrees with SHA256SUMS', async () => {
    const out = await released(tempDir('rel-'));
    const r = await verifyRelease(new DirectoryReader(out), trust);
    expect(r.trustedComment).toMatch(/^timestamp:\d+\tfile:SHA256SUMS\thashed\ttag:v2026.11.0\tkind:release\tindex:sha256:[0-9a-f]{64}$/);
    expect(r.signer?.name).toBe('test key');
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out }).toString()).toMatch(/x64-debug.tar.xz: OK/);
  });

  it('signs the same release with the same key to the same bytes, and refuses another key\'s signature', async () => {
    const out = await released(tempDir('rel-'));
    const first = fileOf(out, 'SHA256SUMS.minisig');
    expect((await signRelease(out, key)).already).toBe(true);
    expect(fileOf(out, 'SHA256SUMS.minisig').equals(first)).toBe(true);
    await expect(signRelease(out, generateKey())).rejects.toThrow(/is not this key's signature/);
  });

  it('refuses to sign a release whose archive does not match SHA256SUMS', async () => {
    const root = tempDir('rel-');
    const out = join(root, 'release');
    await assembleRelease(options(await shards(root), out));
    const archive = join(out, 'x64-debug.tar.xz');
    const data = fileOf(out, 'x64-debug.tar.xz');
    data[100]! ^= 1;
    writeFileSync(archive, data);
    await expect(signRelease(out, key)).rejects.toThrow(/asset x64-debug.tar.xz: does not match SHA256SUMS/);
    expect(existsSync(join(out, 'SHA256SUMS.minisig'))).toBe(false);
  });

  const flip = (dir: string, name: string, at: number) => {
    const data = fileOf(dir, name);
    data[at]! ^= 0x20;
    writeFileSync(join(dir, name), data);
  };

  it.each([
    ['a flipped byte in an archive', (d: string) => flip(d, 'aarch64-debug.tar.xz', 200), 'asset aarch64-debug.tar.xz'],
    ['a flipped byte in SHA256SUMS', (d: string) => flip(d, 'SHA256SUMS', 3), 'signature'],
    // Line 2 holds the signature; line 1 is the untrusted comment, which nothing relies on.
    ['a flipped byte in the signature', (d: string) => flip(d, 'SHA256SUMS.minisig', fileOf(d, 'SHA256SUMS.minisig').indexOf('\n') + 20), 'signature'],
    ['an extra asset', (d: string) => writeFileSync(join(d, 'extra.tar.xz'), 'x'), 'asset extra.tar.xz'],
    ['a missing asset', (d: string) => rmSync(join(d, 'x64-debug.cdx.json')), 'asset x64-debug.cdx.json'],
    ['a missing signature', (d: string) => rmSync(join(d, 'SHA256SUMS.minisig')), 'signature'],
  ])('rejects %s, naming the broken link', async (_what, tamper, link) => {
    const out = await released(tempDir('rel-'));
    tamper(out);
    expect(await brokenLink(out)).toBe(link);
  });

  it('rejects a release signed with another key', async () => {
    const out = await released(tempDir('rel-'));
    expect(await brokenLink(out, generateKey())).toBe('signature');
  });

  it('rejects an archive with a .. entry even when every digest and the signature were made to match', async () => {
    const out = await released(tempDir('rel-'));
    // tar-stream writes whatever name it is given.
    const hostile = pack();
    hostile.entry({ name: 'x64-debug/../evil.efi', mode: 0o644 }, Buffer.from('evil'));
    hostile.finalize();
    const chunks: Buffer[] = [];
    for await (const c of hostile as AsyncIterable<Buffer>) chunks.push(c);
    const tar = Buffer.concat(chunks);
    await forgeRelease(out, key, (d) => execFileSync('sh', ['-c', 'xz -c > x64-debug.tar.xz'], { cwd: d, input: tar }));
    expect(await brokenLink(out)).toBe('x64-debug.tar.xz: x64-debug/../evil.efi');
  });

  it('rejects an archive whose files differ from the signed index, naming the file', async () => {
    const out = await released(tempDir('rel-'));
    await forgeRelease(out, key, (d) => {
      execFileSync('sh', ['-c', 'mkdir t && tar -xJf x64-debug.tar.xz -C t && printf x >> t/x64-debug/OVMF_VARS.fd && tar -cJf x64-debug.tar.xz -C t x64-debug && rm -r t'], { cwd: d });
    });
    expect(await brokenLink(out)).toBe('x64-debug.tar.xz: OVMF_VARS.fd');
  });

  it('keeps secret keys readable by minisign\'s format', () => {
    expect(formatSecretKey(key)).toMatch(/^untrusted comment: .*\n[A-Za-z0-9+/=]{212}\n$/);
  });
});

describe('release trust: trusted comment, signed provenance, key life cycle', () => {
  const reject = async (out: string, store = trust) => verifyRelease(new DirectoryReader(out), store).then(() => 'verified', (err: ReleaseError) => err.message);

  it('names the key that signed, and the tag, kind and index digest it signed', async () => {
    const out = await released(tempDir('rel-'));
    const r = await verifyRelease(new DirectoryReader(out), trust);
    expect(r.signer).toMatchObject({ name: 'test key', keyId: key.keyId });
    expect(r.signed).toMatchObject({ tag: 'v2026.11.0', kind: 'release', index: sha256Hex(fileOf(out, 'index.json')) });
  });

  it('refuses a valid signature whose trusted comment names another tag', async () => {
    const out = await released(tempDir('rel-'));
    const sums = fileOf(out, 'SHA256SUMS');
    const comment = formatTrustedComment({ signedAt: 1, file: 'SHA256SUMS', tag: 'v2026.12.0', kind: 'release', index: sha256Hex(fileOf(out, 'index.json')) });
    writeFileSync(join(out, 'SHA256SUMS.minisig'), signMessage(key, sums, comment));
    expect(await reject(out)).toBe('trusted comment: SHA256SUMS.minisig: it was signed for tag v2026.12.0, index.json says v2026.11.0');
  });

  it('refuses provenance whose envelope was altered, even when SHA256SUMS was re-signed to match', async () => {
    const out = await released(tempDir('rel-'));
    const envelope = JSON.parse(fileOf(out, 'provenance.intoto.jsonl').toString()) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as { predicate: { runDetails: { builder: { id: string } } } };
    statement.predicate.runDetails.builder.id = 'urn:someone-else';
    writeFileSync(join(out, 'provenance.intoto.jsonl'), `${JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') })}\n`);
    const sums = fileOf(out, 'SHA256SUMS').toString().replace(/^[0-9a-f]{64}(?= {2}provenance)/m, sha256Hex(fileOf(out, 'provenance.intoto.jsonl')));
    writeFileSync(join(out, 'SHA256SUMS'), sums);
    const signed = parseSignature(fileOf(out, 'SHA256SUMS.minisig').toString());
    writeFileSync(join(out, 'SHA256SUMS.minisig'), signMessage(key, Buffer.from(sums), signed.trustedComment));
    expect(await reject(out)).toMatch(/^provenance.intoto.jsonl line 1: no signature verifies with a trusted key/);
  });

  it('refuses a release signed with a revoked key, naming the key', async () => {
    const out = await released(tempDir('rel-'));
    const revoked = { ...trust, keys: trust.keys.map((k) => ({ ...k, revoked: 'compromised' })) };
    expect(await reject(out, revoked)).toBe(`signature: SHA256SUMS.minisig: key test key (${keyIdHex(key.keyId)}) is revoked (compromised)`);
  });
});
