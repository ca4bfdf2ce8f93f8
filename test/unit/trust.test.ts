/**
 * Keys with a life cycle (trust.ts), the signed trusted comment, DSSE envelopes, check-signing
 * and pull's rollback rules: pure logic, on generated keys and a temporary trust directory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InstalledVariant } from '../../pipeline/domain.ts';
import { checkSigning, KEY_ENV, readTrust } from '../../pipeline/cli/release-command.ts';
import { checkExpectedTag, checkNoDowngrade, downgradeProblem } from '../../pipeline/pull/rollback.ts';
import { buildRunFromEnv, GITHUB_WORKFLOW_BUILD_TYPE } from '../../pipeline/release/provenance.ts';
import { asEnvelope, envelopeSigner, pae, signEnvelope } from '../../pipeline/release/dsse.ts';
import { formatPublicKey, formatSecretKey, generateKey, keyIdHex, type SecretKey } from '../../pipeline/release/minisign.ts';
import { commentMismatch, formatTrustedComment, parseTrustedComment, releaseKind, type SignedFields } from '../../pipeline/release/trusted-comment.ts';
import { keyById, keyProblem, loadTrust, makeStatement, type TrustStore } from '../../pipeline/release/trust.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NOW = 1_800_000_000;

function trustDir(keys: Record<string, SecretKey>, meta?: object): string {
  const dir = tempDir('trust-');
  for (const [name, k] of Object.entries(keys)) writeFileSync(join(dir, `${name}.pub`), formatPublicKey(k));
  if (meta) writeFileSync(join(dir, 'trust.json'), JSON.stringify(meta));
  return dir;
}

function statement(dir: string, kind: 'introduce' | 'revoke', signer: [string, SecretKey], subject: [string, SecretKey]): void {
  const st = makeStatement(kind, { name: signer[0], key: signer[1] }, { name: subject[0], text: formatPublicKey(subject[1]) }, NOW - 100);
  writeFileSync(join(dir, st.file), st.text);
}

const load = (dir: string) => loadTrust([{ path: dir, shown: 'keys/trust' }]);
const problemOf = (store: TrustStore, k: SecretKey, signedAt = NOW - 10) => keyProblem(keyById(store, k.keyId)!, signedAt, NOW);

describe('trust store', () => {
  const old = generateKey();
  const next = generateKey();

  it('trusts a root key and refuses one revoked in trust.json, naming it', async () => {
    const store = await load(trustDir({ old, next }, { keys: { next: { revoked: 'secret leaked' } } }));
    expect(problemOf(store, old)).toBeUndefined();
    expect(problemOf(store, next)).toBe(`key next (${keyIdHex(next.keyId)}) is revoked (secret leaked)`);
  });

  it('refuses an expired key, and a key used before its validity', async () => {
    const store = await load(trustDir({ old, next }, { keys: { old: { notAfter: '2026-01-01T00:00:00Z' }, next: { notBefore: '2030-01-01T00:00:00Z' } } }));
    expect(problemOf(store, old)).toMatch(/^key old \(\w+\) expired on 2026-01-01T00:00:00Z$/);
    expect(problemOf(store, next, NOW)).toMatch(/^key next \(\w+\) is valid from 2030-01-01T00:00:00Z, but this was signed on /);
  });

  it('accepts a key introduced by a trusted key, and says by which', async () => {
    const dir = trustDir({ old, next });
    statement(dir, 'introduce', ['old', old], ['next', next]);
    const store = await load(dir);
    expect(problemOf(store, next)).toBeUndefined();
    expect(keyById(store, next.keyId)!.introducedBy).toBe('old');
  });

  it('refuses a key whose introduction is signed by a key that is not trusted', async () => {
    const stranger = generateKey();
    const dir = trustDir({ next });
    // The statement names "old", but old.pub is not in the store; a stranger's key signed it.
    statement(dir, 'introduce', ['old', stranger], ['next', next]);
    expect(problemOf(await load(dir), next)).toMatch(/^key next \(\w+\) is not trusted: .*next\.introduced-by-old\.minisig is signed by old, which is not a trusted key$/);
  });

  it('refuses a key whose introduction was made by another key than the one it names', async () => {
    const dir = trustDir({ old, next });
    statement(dir, 'introduce', ['old', generateKey()], ['next', next]);
    expect(problemOf(await load(dir), next)).toMatch(/does not verify with old .*made with key/);
  });

  it('refuses a key revoked by a statement of a trusted key', async () => {
    const dir = trustDir({ old, next });
    statement(dir, 'introduce', ['old', old], ['next', next]);
    statement(dir, 'revoke', ['next', next], ['old', old]);
    const store = await load(dir);
    expect(problemOf(store, old)).toMatch(/^key old \(\w+\) is revoked \(by keys\/trust\/old\.revoked-by-next\.minisig\)$/);
    expect(problemOf(store, next)).toBeUndefined();
  });

  it('takes --trust more than once, files and directories together', async () => {
    const a = trustDir({ old });
    const other = generateKey();
    const file = join(tempDir('pub-'), 'other.pub');
    writeFileSync(file, formatPublicKey(other));
    const store = await readTrust([a, file]);
    expect(store.sources).toEqual([a, file]);
    expect(problemOf(store, old)).toBeUndefined();
    expect(keyById(store, other.keyId)?.name).toBe('other');
  });
});

describe('check-signing', () => {
  const key = generateKey();
  const env = (k?: SecretKey) => ({ [KEY_ENV]: k ? formatSecretKey(k) : '' });

  it('says signing=true for a key of the trust store', async () => {
    expect(await checkSigning(env(key), [trustDir({ key })], false, NOW)).toEqual({ code: 0, line: 'signing=true' });
  });

  it('exits 2 with what to do when no key is set, or signing=false with --allow-missing', async () => {
    const dir = trustDir({ key });
    const r = await checkSigning(env(), [dir], false, NOW);
    expect(r.code).toBe(2);
    expect(r.line).toMatch(/^no signing key in \$EDK2_MATRIX_RELEASE_KEY: run `npm run release -- keygen --out DIR`, store DIR\/release.key as the secret EDK2_MATRIX_RELEASE_KEY of the GitHub environment `release` and commit DIR\/release.pub as keys\/trust\/<name>.pub$/);
    expect(await checkSigning(env(), [dir], true, NOW)).toEqual({ code: 0, line: 'signing=false' });
  });

  it('exits 2 for a key that is not in the store, or is revoked', async () => {
    const other = generateKey();
    expect(await checkSigning(env(other), [trustDir({ key })], true, NOW)).toMatchObject({ code: 2, line: expect.stringMatching(`^the signing key ${keyIdHex(other.keyId)} in \\$EDK2_MATRIX_RELEASE_KEY is not in `) });
    expect(await checkSigning(env(key), [trustDir({ key }, { keys: { key: { revoked: 'lost' } } })], false, NOW))
      .toMatchObject({ code: 2, line: expect.stringMatching(/^key key \(\w+\) is revoked \(lost\): make a new key/) });
  });
});

describe('trusted comment', () => {
  const fields: SignedFields = { signedAt: NOW, file: 'SHA256SUMS', tag: 'v1.2.0', kind: 'release', index: 'a'.repeat(64) };

  it('reads back what it writes, one minisign-style line', () => {
    const text = formatTrustedComment(fields);
    expect(text).toBe(`timestamp:${NOW}\tfile:SHA256SUMS\thashed\ttag:v1.2.0\tkind:release\tindex:sha256:${'a'.repeat(64)}`);
    expect(parseTrustedComment(text)).toEqual(fields);
    expect(parseTrustedComment(`timestamp:${NOW}\tfile:SHA256SUMS\thashed\trelease:v1.2.0`)).toBe('it names no kind (release or nightly)');
  });

  it('refuses a signature made for another tag or another index', () => {
    expect(commentMismatch(fields, { tag: 'v1.3.0', sha256: 'a'.repeat(64) })).toBe('it was signed for tag v1.2.0, index.json says v1.3.0');
    expect(commentMismatch(fields, { tag: 'v1.2.0', sha256: 'b'.repeat(64) })).toMatch(/^it was signed for another index.json/);
    expect(commentMismatch(fields, { tag: 'v1.2.0', sha256: 'a'.repeat(64) })).toBeUndefined();
  });

  it('tells nightlies from releases by what is signed', () => {
    expect(releaseKind('nightly-0123456789abcdef')).toBe('nightly');
    expect(releaseKind(undefined)).toBe('nightly');
    expect(releaseKind('v1.2.0')).toBe('release');
    const nightly = { ...fields, tag: 'nightly-0123456789abcdef', kind: 'release' as const };
    expect(commentMismatch(nightly, { tag: 'nightly-0123456789abcdef', sha256: 'a'.repeat(64) })).toBe('it was signed as a release, but tag nightly-0123456789abcdef is a nightly');
  });
});

describe('DSSE', () => {
  it('encodes PAE exactly as the DSSE spec\'s example', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    expect(pae('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é');
  });

  it('verifies an envelope with its key, and refuses a tampered payload or type', () => {
    const key = generateKey();
    const e = signEnvelope(key, 'application/vnd.in-toto+json', Buffer.from('{"a":1}'));
    expect(e.signatures[0]!.keyid).toBe(keyIdHex(key.keyId));
    expect(envelopeSigner(e, [key])).toBe(key);
    expect(envelopeSigner({ ...e, payload: Buffer.from('{"a":2}').toString('base64') }, [key])).toBeUndefined();
    expect(envelopeSigner({ ...e, payloadType: 'application/json' }, [key])).toBeUndefined();
    expect(envelopeSigner(e, [generateKey()])).toBeUndefined();
    expect(asEnvelope({ _type: 'statement' })).toMatch(/not a DSSE envelope/);
  });
});

describe('pull rollback rules', () => {
  const incoming: SignedFields = { signedAt: NOW, file: 'SHA256SUMS', tag: 'v1.2.0', kind: 'release', index: 'a'.repeat(64) };
  const installed = (release: { tag?: string; signedAt?: number }) =>
    ({ id: 'x64', release: { location: 'x', keyId: 'K', archiveSha256: 'a', tag: undefined, ...release } }) as unknown as InstalledVariant;

  it('refuses a release signed before the installed one, unless --allow-downgrade', () => {
    const v = installed({ tag: 'nightly-1', signedAt: NOW + 60 });
    expect(() => checkNoDowngrade([v], ['x64'], incoming, false)).toThrow(/^release: would downgrade: x64 has nightly-1 \(signed .*\); v1.2.0 was signed earlier/);
    expect(() => checkNoDowngrade([v], ['x64'], incoming, true)).not.toThrow();
    expect(() => checkNoDowngrade([v], ['aarch64'], incoming, false)).not.toThrow();
    expect(downgradeProblem('x64', { tag: 'v1.2.0', signedAt: NOW }, incoming)).toBeUndefined();
  });

  it('compares version tags when the receipt has no signing time', () => {
    expect(downgradeProblem('x64', { tag: 'v1.10.0' }, incoming)).toBe('x64 has v1.10.0; v1.2.0 is an older version');
    expect(downgradeProblem('x64', { tag: 'v1.1.9' }, incoming)).toBeUndefined();
    expect(downgradeProblem('x64', { tag: 'nightly-1' }, incoming)).toBeUndefined();
  });

  it('refuses any tag but the one --expect-tag names', () => {
    expect(() => checkExpectedTag('v1.3.0', incoming)).toThrow('release: is release v1.2.0, not v1.3.0 as --expect-tag asks');
    expect(() => checkExpectedTag('v1.2.0', incoming)).not.toThrow();
    expect(() => checkExpectedTag(undefined, incoming)).not.toThrow();
  });
});

describe('SLSA provenance of a GitHub workflow run', () => {
  it('takes buildType, externalParameters.workflow and builder.id from the workflow', () => {
    const run = buildRunFromEnv({ GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '7',
      GITHUB_WORKFLOW_REF: 'o/r/.github/workflows/release.yml@refs/tags/v1.2.0' });
    expect(run).toMatchObject({ builderId: 'https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.2.0',
      workflow: { ref: 'refs/tags/v1.2.0', repository: 'https://github.com/o/r', path: '.github/workflows/release.yml' } });
    expect(GITHUB_WORKFLOW_BUILD_TYPE).toBe('https://actions.github.io/buildtypes/workflow/v1');
  });
});
