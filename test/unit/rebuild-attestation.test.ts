/**
 * Rebuild attestations without an engine: the statement a rebuilder signs, and what `release
 * verify` and `pull` make of it (--rebuilt-by, --rebuilds, --require-rebuilds), on a release
 * assembled and signed by the real code from stand-in firmware. Every refusal is one line that
 * names why the attestation did not count.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../pipeline/cli/command-context.ts';
import { runToExit } from '../../pipeline/cli/main.ts';
import { pullCommand } from '../../pipeline/cli/pull-command.ts';
import { releaseCommand } from '../../pipeline/cli/release-command.ts';
import { ReleaseError } from '../../pipeline/errors.ts';
import { assembleRelease } from '../../pipeline/release/assemble.ts';
import { envelopePayload, envelopeSigner, IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../../pipeline/release/dsse.ts';
import { formatPublicKey, generateKey, keyIdHex, type SecretKey } from '../../pipeline/release/minisign.ts';
import {
  defaultVerifierId, DIFFERENCES_FIELD, REBUILD_LEVEL, REBUILD_POLICY_URI, rebuildAttestationName, rebuildStatement, signRebuildAttestation,
  VSA_PREDICATE_TYPE, type RebuildDifference,
} from '../../pipeline/release/rebuild-attestation.ts';
import { DirectoryReader } from '../../pipeline/release/release-reader.ts';
import { checkRebuilds, type RebuildPolicy, type RebuildCheck } from '../../pipeline/release/require-rebuilds.ts';
import { signRelease } from '../../pipeline/release/sign-release.ts';
import { singleKeyStore } from '../../pipeline/release/trust.ts';
import { verifyRelease, type VerifiedRelease } from '../../pipeline/release/verify-release.ts';
import { GENERATOR_VERSION } from '../../pipeline/version.ts';
import { capturedStream } from '../helpers/captured-stream.ts';
import { FAKE_NOTICES, fakeVariants, writeFakeVariant } from '../helpers/fake-artifacts.ts';
import { serveDirectory } from '../helpers/static-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const publisher = generateKey();
const alice = generateKey();
const bob = generateKey();
const mallory = generateKey();
const rebuilders = [{ name: 'alice', key: alice }, { name: 'bob', key: bob }];

let root: string;
let releaseDir: string;
let release: VerifiedRelease;
let assets: { name: string; sha256: string }[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'edk2-matrix-test-rebuild-'));
  const shard = join(root, 'shard');
  for (const v of fakeVariants()) await writeFakeVariant(shard, v, { boot: {} });
  releaseDir = join(root, 'release');
  await assembleRelease({
    from: [shard], out: releaseDir, config: undefined, tag: 'v1', commit: undefined, sourceDateEpoch: undefined,
    run: { builderId: 'urn:test', invocationId: undefined, repository: undefined }, notices: FAKE_NOTICES, log: { info: () => {}, warn: () => {} },
  });
  await signRelease(releaseDir, publisher);
  release = await verifyRelease(new DirectoryReader(releaseDir), singleKeyStore('publisher', publisher));
  assets = release.index.assets.map((a) => ({ name: a.name, sha256: a.sha256 }));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const DIFF: RebuildDifference = { variant: 'x64-debug', file: 'OVMF_CODE.fd', modules: ['MdeModulePkg/Core/Dxe/DxeMain.inf', 'OvmfPkg/PlatformPei/PlatformPei.inf'], reason: 'sha256 differs' };

interface Attest {
  readonly passed?: boolean;
  readonly sums?: string;
  readonly subjects?: readonly { name: string; sha256: string }[];
  readonly differences?: readonly RebuildDifference[];
}

function statement(key: SecretKey, o: Attest = {}): Record<string, unknown> {
  const passed = o.passed ?? true;
  return rebuildStatement({
    location: releaseDir, sumsSha256: o.sums ?? release.sumsSha256, subjects: o.subjects ?? assets, passed,
    differences: o.differences ?? (passed ? [] : [DIFF]), verifierId: defaultVerifierId(key.keyId), time: new Date('2026-12-01T10:00:00Z'),
  });
}

/** The attestation file's text, as `npm run rebuild` writes it. */
function attest(key: SecretKey, o: Attest = {}): string {
  return `${JSON.stringify(signRebuildAttestation(key, statement(key, o)))}\n`;
}

function policy(extra: Partial<RebuildPolicy> = {}): RebuildPolicy {
  return { rebuilders, sources: [], require: 1, allowFailed: false, ...extra };
}

const on = (reader = new DirectoryReader(releaseDir)) => ({ reader, sumsSha256: release.sumsSha256, location: reader.location });

/** Checks with the attestations `files` in a directory given as --rebuilds. */
async function check(files: Record<string, string>, extra: Partial<RebuildPolicy> = {}, required = assets): Promise<RebuildCheck> {
  const dir = tempDir('rebuilds-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return checkRebuilds(policy({ sources: [dir], ...extra }), on(), required);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ReleaseError);
  const message = (err as ReleaseError).oneLine;
  expect(message).not.toContain('\n');
  return message;
}

describe('the rebuild attestation a rebuilder signs', () => {
  it('is an in-toto statement of an SLSA verification summary bound to the release\'s SHA256SUMS', () => {
    const st = statement(alice) as { _type: string; subject: { name: string; digest: { sha256: string } }[]; predicateType: string; predicate: Record<string, unknown> };
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe(VSA_PREDICATE_TYPE);
    expect(st.subject.map((s) => s.name)).toEqual([...assets.map((a) => a.name)].sort());
    expect(st.subject.map((s) => s.digest.sha256).sort()).toEqual(assets.map((a) => a.sha256).sort());
    expect(st.subject.map((s) => s.name)).toEqual(expect.arrayContaining(['x64-debug.tar.xz', 'x64-debug.cdx.json', 'aarch64-debug.tar.xz', 'aarch64-debug.cdx.json']));
    const p = st.predicate;
    expect(p.verifier).toEqual({ id: `urn:edk2-matrix:rebuilder:${keyIdHex(alice.keyId)}`, version: { 'edk2-matrix': GENERATOR_VERSION } });
    expect(p.timeVerified).toBe('2026-12-01T10:00:00.000Z');
    expect(p.resourceUri).toBe(releaseDir);
    expect(p.policy).toEqual({ uri: REBUILD_POLICY_URI });
    expect(p.inputAttestations).toEqual([{ uri: 'SHA256SUMS', digest: { sha256: release.sumsSha256 } }]);
    expect(p.verificationResult).toBe('PASSED');
    expect(p.verifiedLevels).toEqual([REBUILD_LEVEL]);
    expect(REBUILD_LEVEL).not.toMatch(/^SLSA_/);
    expect(p.slsaVersion).toBe('1.0');
    expect(p[DIFFERENCES_FIELD]).toEqual([]);
  });

  it('says FAILED with the differences, and verifies no level', () => {
    const p = (statement(alice, { passed: false }) as { predicate: Record<string, unknown> }).predicate;
    expect(p.verificationResult).toBe('FAILED');
    expect(p.verifiedLevels).toEqual(['FAILED']);
    expect(p[DIFFERENCES_FIELD]).toEqual([DIFF]);
  });

  it('travels in a DSSE envelope signed by the rebuilder, under a name that carries its key id', () => {
    const envelope = signRebuildAttestation(alice, statement(alice));
    expect(envelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(envelopeSigner(envelope, [bob, alice])).toBe(alice);
    expect(envelopeSigner(envelope, [bob])).toBeUndefined();
    expect(JSON.parse(envelopePayload(envelope).toString('utf8'))).toEqual(statement(alice));
    expect(rebuildAttestationName(alice.keyId)).toBe(`rebuild-${keyIdHex(alice.keyId)}.intoto.json`);
  });
});

describe('requiring independent rebuilds', () => {
  it('accepts a PASSED attestation by a trusted rebuilder, naming it', async () => {
    const report = await check({ 'alice.intoto.json': attest(alice) });
    expect(report.passed).toBe(1);
    expect(report.warnings).toEqual([]);
    expect(report.lines).toEqual([expect.stringMatching(new RegExp(`^rebuilt bit for bit by alice \\(${keyIdHex(alice.keyId)}\\) on 2026-12-01T10:00:00.000Z: 4 assets `))]);
  });

  it('refuses an attestation whose subject digest differs from the release\'s', async () => {
    const subjects = assets.map((a, i) => (i === 0 ? { ...a, sha256: 'e'.repeat(64) } : a));
    expect(await refusal(check({ 'a.intoto.json': attest(alice, { subjects }) })))
      .toMatch(new RegExp(`^rebuilds: 0 of the 1 required rebuilders .*a\\.intoto\\.json by alice .* names ${assets[0]!.name.replaceAll('.', '\\.')} with sha256 eeee.*wrong subject digest`));
  });

  it('refuses an attestation signed by a key that is not a --rebuilt-by key', async () => {
    expect(await refusal(check({ 'm.intoto.json': attest(mallory) })))
      .toMatch(new RegExp(`m\\.intoto\\.json is signed by ${keyIdHex(mallory.keyId)}, not by a --rebuilt-by key \\(alice \\(${keyIdHex(alice.keyId)}\\), bob .*\\): an untrusted rebuilder`));
  });

  it('refuses a truncated envelope', async () => {
    const text = attest(alice);
    expect(await refusal(check({ 'a.intoto.json': text.slice(0, text.length / 2) }))).toMatch(/a\.intoto\.json is malformed: not JSON \(/);
  });

  it('refuses an envelope that is not DSSE, and a signed payload that is not a rebuild summary', async () => {
    expect(await refusal(check({ 'a.intoto.json': '{"hello": 1}' }))).toMatch(/a\.intoto\.json is malformed: is not a DSSE envelope/);
    const provenance = JSON.stringify(signEnvelope(alice, IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'https://slsa.dev/provenance/v1', predicate: {} }))));
    expect(await refusal(check({ 'a.intoto.json': provenance }))).toMatch(/a\.intoto\.json is malformed: its payload is not a rebuild verification summary \(predicateType: /);
  });

  it('refuses a PASSED for another release (another SHA256SUMS)', async () => {
    expect(await refusal(check({ 'a.intoto.json': attest(alice, { sums: 'd'.repeat(64) }) })))
      .toMatch(/a\.intoto\.json by alice \([0-9A-F]{16}\) is for another release: its SHA256SUMS has sha256 dddddddddddddddd…, this release's [0-9a-f]{16}…/);
  });

  it('refuses a release a trusted rebuilder could not rebuild, naming the file and modules', async () => {
    const files = { 'a.intoto.json': attest(alice, { passed: false }), 'b.intoto.json': attest(bob) };
    const message = await refusal(check(files));
    expect(message).toMatch(new RegExp(`^rebuilds: rebuild FAILED by alice \\(${keyIdHex(alice.keyId)}\\) on 2026-12-01T10:00:00.000Z: ` +
      'x64-debug/OVMF_CODE.fd differs \\(modules MdeModulePkg/Core/Dxe/DxeMain.inf, OvmfPkg/PlatformPei/PlatformPei.inf\\): sha256 differs'));
    expect(message).toContain('--allow-failed-rebuilds');
  });

  it('accepts it with allowFailed, with a warning, when enough others passed', async () => {
    const report = await check({ 'a.intoto.json': attest(alice, { passed: false }), 'b.intoto.json': attest(bob) }, { allowFailed: true });
    expect(report.passed).toBe(1);
    expect(report.warnings).toEqual([expect.stringMatching(/^rebuild FAILED by alice .*x64-debug\/OVMF_CODE.fd differs.*: accepted because of --allow-failed-rebuilds$/)]);
    expect(report.lines).toHaveLength(2);
  });

  it('counts two attestations by the same rebuilder once', async () => {
    const files = { 'a1.intoto.json': attest(alice), 'a2.intoto.json': attest(alice) };
    expect((await check(files)).passed).toBe(1);
    expect(await refusal(check(files, { require: 2 }))).toMatch(/^rebuilds: 1 of the 2 required rebuilders attest a bit-identical rebuild of 4 assets/);
    expect((await check({ ...files, 'b.intoto.json': attest(bob) }, { require: 2 })).passed).toBe(2);
  });

  it('refuses when no attestation is found', async () => {
    expect(await refusal(check({}))).toMatch(/^rebuilds: no rebuild attestation found in /);
    expect(await refusal(checkRebuilds(policy(), on(), assets)))
      .toMatch(new RegExp(`^rebuilds: no rebuild attestation found in ${releaseDir} \\(rebuild-${keyIdHex(alice.keyId)}\\.intoto\\.json, rebuild-`));
  });

  it('asks only for the assets of the variants pulled (--only)', async () => {
    const x64 = assets.filter((a) => a.name.startsWith('x64-'));
    const files = { 'a.intoto.json': attest(alice, { subjects: x64 }) };
    expect((await check(files, {}, x64)).passed).toBe(1);
    expect(await refusal(check(files))).toMatch(/alice \([0-9A-F]{16}\) said PASSED for 2 of the 4 assets, not for aarch64-debug\.(tar\.xz|cdx\.json), aarch64-debug\./);
  });
});

describe('where attestations are read from', () => {
  it('reads a file, a directory and a URL', async () => {
    const dir = tempDir('sources-');
    mkdirSync(join(dir, 'bob'));
    writeFileSync(join(dir, 'alice.intoto.json'), attest(alice));
    writeFileSync(join(dir, 'bob', 'rebuild.intoto.json'), attest(bob));
    writeFileSync(join(dir, 'bob', 'notes.txt'), 'not an attestation');
    const both = await checkRebuilds(policy({ sources: [join(dir, 'alice.intoto.json'), join(dir, 'bob')], require: 2 }), on(), assets);
    expect(both.passed).toBe(2);
    const server = await serveDirectory(dir);
    try {
      const report = await checkRebuilds(policy({ sources: [`${server.url}bob/rebuild.intoto.json`] }), on(), assets);
      expect(report.lines).toEqual([expect.stringContaining(`by bob (${keyIdHex(bob.keyId)})`)]);
      expect(server.requests).toEqual(['bob/rebuild.intoto.json']);
      expect(await refusal(checkRebuilds(policy({ sources: [`${server.url}missing.intoto.json`] }), on(), assets)))
        .toMatch(/^rebuilds: no rebuild attestation found in http:\/\/127\.0\.0\.1:\d+\/missing\.intoto\.json: http:.* is missing \(404/);
    } finally {
      await server.close();
    }
  });

  it('reads rebuild-<key id>.intoto.json beside the release, which the verifier lets sit outside SHA256SUMS', async () => {
    const dir = join(tempDir('beside-'), 'release');
    cpSync(releaseDir, dir, { recursive: true });
    writeFileSync(join(dir, rebuildAttestationName(bob.keyId)), attest(bob));
    const reader = new DirectoryReader(dir);
    const again = await verifyRelease(reader, singleKeyStore('publisher', publisher));
    expect(again.sumsSha256).toBe(release.sumsSha256);
    const report = await checkRebuilds(policy(), { reader, sumsSha256: again.sumsSha256, location: dir }, assets);
    expect(report.lines).toEqual([expect.stringMatching(new RegExp(`by bob .*\\(${rebuildAttestationName(bob.keyId).replaceAll('.', '\\.')}\\)$`))]);
    writeFileSync(join(dir, 'notes.intoto.json'), attest(bob));
    await expect(verifyRelease(reader, singleKeyStore('publisher', publisher))).rejects.toThrow('asset notes.intoto.json: is not listed in SHA256SUMS (extra asset)');
  });
});

describe('--rebuilt-by on the command line', () => {
  async function run(command: Command, argv: readonly string[]) {
    const stdout = capturedStream();
    const stderr = capturedStream();
    const code = await runToExit(command, argv, new AbortController().signal, { stdout, stderr });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  }

  function keys(dir: string) {
    for (const [name, k] of [['publisher', publisher], ['alice', alice], ['bob', bob]] as const) writeFileSync(join(dir, `${name}.pub`), formatPublicKey(k));
    return { publisher: join(dir, 'publisher.pub'), alice: join(dir, 'alice.pub'), bob: join(dir, 'bob.pub') };
  }

  it('release verify prints one line per rebuilder that attested', async () => {
    const dir = tempDir('verify-cli-');
    const k = keys(dir);
    const copy = join(dir, 'release');
    cpSync(releaseDir, copy, { recursive: true });
    writeFileSync(join(copy, rebuildAttestationName(alice.keyId)), attest(alice));
    const r = await run(releaseCommand, ['verify', copy, '--trust', k.publisher, '--rebuilt-by', k.alice, '--rebuilt-by', k.bob, '--require-rebuilds', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\n {2}rebuilt bit for bit by alice \\(${keyIdHex(alice.keyId)}\\) on 2026-12-01T10:00:00.000Z: 4 assets \\(rebuild-`));
    const two = await run(releaseCommand, ['verify', copy, '--trust', k.publisher, '--rebuilt-by', k.alice, '--rebuilt-by', k.bob, '--require-rebuilds', '2']);
    expect(two.code).toBe(1);
    expect(two.stdout).toBe('');
    expect(two.stderr).toMatch(/^edk2-matrix: rebuilds: 1 of the 2 required rebuilders attest/);
  });

  it.each([
    [['--require-rebuilds', '2', '--rebuilt-by', 'ALICE'], /^edk2-matrix: --require-rebuilds 2: only 1 rebuilder key\(s\) given with --rebuilt-by/],
    [['--rebuilds', 'somewhere'], /^edk2-matrix: --rebuilds needs --rebuilt-by PUB/],
    [['--rebuilt-by', 'MISSING'], /^edk2-matrix: --rebuilt-by .*missing\.pub: cannot read it/],
    [['--require-rebuilds', '-1', '--rebuilt-by', 'ALICE'], /^edk2-matrix: --require-rebuilds: "-1" is not a whole number of at least 0/],
  ])('refuses %j as bad usage, exit 2, in verify and pull', async (args, line) => {
    const dir = tempDir('usage-cli-');
    const k = keys(dir);
    const argv = args.map((a) => (a === 'ALICE' ? k.alice : a === 'MISSING' ? join(dir, 'missing.pub') : a));
    const verify = await run(releaseCommand, ['verify', releaseDir, '--trust', k.publisher, ...argv]);
    expect(verify).toMatchObject({ code: 2, stdout: '' });
    expect(verify.stderr).toMatch(line);
    const pull = await run(pullCommand, [releaseDir, '--trust', k.publisher, '--destdir', join(dir, 'dest'), ...argv]);
    expect(pull).toMatchObject({ code: 2, stdout: '' });
    expect(pull.stderr).toMatch(line);
  });

  it('pull refuses a release without the attestation before touching the destination, and installs it with one', async () => {
    const dir = tempDir('pull-cli-');
    const k = keys(dir);
    const copy = join(dir, 'release');
    cpSync(releaseDir, copy, { recursive: true });
    const dest = join(dir, 'dest');
    const args = [copy, '--trust', k.publisher, '--destdir', dest, '--only', 'x64-*', '--rebuilt-by', k.alice];
    const refused = await run(pullCommand, args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`edk2-matrix: rebuilds: no rebuild attestation found in ${copy} \\(rebuild-${keyIdHex(alice.keyId)}\\.intoto\\.json\\)`));
    expect(existsSync(dest)).toBe(false);
    // An attestation for the x64 variant alone is enough for --only x64-*.
    writeFileSync(join(dir, 'alice.intoto.json'), attest(alice, { subjects: assets.filter((a) => a.name.startsWith('x64-')) }));
    const pulled = await run(pullCommand, [...args, '--rebuilds', join(dir, 'alice.intoto.json')]);
    expect(pulled.stderr).toContain(`rebuilt bit for bit by alice (${keyIdHex(alice.keyId)})`);
    expect(pulled.code).toBe(0);
    expect(existsSync(join(dest, 'usr/share/edk2-matrix/x64-debug'))).toBe(true);
  });
});
