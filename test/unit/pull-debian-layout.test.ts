/**
 * `pull --layout debian`: a release of distro.yaml installed under Debian's own paths and
 * names, with the guarantees of every pull (verified first, nothing half-written, --check,
 * uninstall), and a clear refusal when the release cannot fill Debian's layout.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullCommand } from '../../pipeline/cli/pull-command.ts';
import { loadConfig } from '../../pipeline/config/load.ts';
import { REPO_CERTS, SNAKEOIL_KEY, SNAKEOIL_OWNER } from '../../pipeline/config/key-sets.ts';
import { describeError } from '../../pipeline/errors.ts';
import type { EnrolledStore, Variant } from '../../pipeline/domain.ts';
import { enrolledLaunchScript, enrolledVarsName } from '../../pipeline/layout.ts';
import { enrolledDescriptorFileName } from '../../pipeline/plan/firmware-descriptor.ts';
import { firmwareDescriptorSchema } from '../../pipeline/plan/qemu-firmware-schema.ts';
import { checkInstall } from '../../pipeline/pull/check-install.ts';
import { installDebianLayout, selectDebianFiles } from '../../pipeline/pull/debian-install.ts';
import { DEBIAN_FILES, DEBIAN_VARIANTS } from '../../pipeline/pull/debian-layout.ts';
import { repairDestination } from '../../pipeline/pull/install-journal.ts';
import { installPaths, type InstallPaths } from '../../pipeline/pull/install-paths.ts';
import { readReceipt } from '../../pipeline/pull/receipt.ts';
import { uninstall } from '../../pipeline/pull/uninstall.ts';
import { assembleRelease } from '../../pipeline/release/assemble.ts';
import { generateKey } from '../../pipeline/release/minisign.ts';
import { DirectoryReader } from '../../pipeline/release/release-reader.ts';
import { signRelease } from '../../pipeline/release/sign-release.ts';
import { singleKeyStore } from '../../pipeline/release/trust.ts';
import { verifyRelease, type VerifiedRelease } from '../../pipeline/release/verify-release.ts';
import { REPO } from '../helpers/config.ts';
import { FAKE_NOTICES, writeFakeVariant } from '../helpers/fake-artifacts.ts';
import { quietLog } from '../helpers/pull-release.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { treeSnapshot } from '../helpers/tree-snapshot.ts';

const never = new AbortController().signal;
const key = generateKey();
let root: string;
let release: VerifiedRelease;
let wrongSnakeoil: VerifiedRelease;

function stores(v: Variant, snakeoilSha: string): EnrolledStore[] {
  return v.keySets.map((k) => ({
    keySet: k.name, varsTemplate: enrolledVarsName(v.platform.vars.published, k.name),
    descriptor: enrolledDescriptorFileName(v, k.name), launch: enrolledLaunchScript(k.name),
    certificates: [{ variable: 'PK' as const, owner: SNAKEOIL_OWNER, subject: 'CN=test', sha256: k.name === 'snakeoil' ? snakeoilSha : '0'.repeat(64) }],
  }));
}

async function distroRelease(name: string, snakeoilSha: string): Promise<VerifiedRelease> {
  const shard = join(root, `shard-${name}`);
  for (const v of loadConfig(join(REPO, 'distro.yaml')).variants) {
    await writeFakeVariant(shard, v, { boot: {}, enrolled: stores(v, snakeoilSha) });
  }
  const out = join(root, `release-${name}`);
  await assembleRelease({ from: [shard], out, config: undefined, tag: name, commit: undefined, sourceDateEpoch: undefined, run: { builderId: 'x', invocationId: undefined, repository: undefined }, notices: FAKE_NOTICES, log: quietLog });
  await signRelease(out, key);
  return verifyRelease(new DirectoryReader(out), singleKeyStore('test', key), {});
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'edk2-matrix-test-debian-layout-'));
  const fingerprint = new X509Certificate(readFileSync(REPO_CERTS.snakeoil.path)).fingerprint256.replaceAll(':', '').toLowerCase();
  release = await distroRelease('v1', fingerprint);
  wrongSnakeoil = await distroRelease('v2', 'e'.repeat(64));
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const pkg = (dir: string): InstallPaths => installPaths({ user: false, destdir: dir, prefix: undefined });
const ids = (r: VerifiedRelease) => r.index.variants.map((v) => v.id);
const install = (paths: InstallPaths, r: VerifiedRelease, only?: readonly string[], step?: (name: string) => Promise<void>) => {
  const chosen = only ?? [...DEBIAN_VARIANTS];
  return installDebianLayout({
    paths, release: r, location: join(root, 'release'), ids: chosen, selection: selectDebianFiles(ids(r), chosen, only !== undefined, r.index.release.tag),
    log: quietLog, signal: never, ...(step ? { step } : {}),
  });
};
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const failure = (p: Promise<unknown>) => p.then(() => 'no error', (e: unknown) => describeError(e));

describe('pull --layout debian', () => {
  it('installs every file Debian ships that we provide, under Debian\'s path, name and links, with descriptors naming them', async () => {
    const dest = tempDir('debian-');
    const paths = pkg(dest);
    await install(paths, release);
    for (const f of DEBIAN_FILES) {
      const at = join(dest, f.path);
      const s = f.source;
      if (s.kind === 'none') expect(existsSync(at), f.path).toBe(false);
      if (s.kind === 'link') expect(readlinkSync(at), f.path).toBe(s.target);
      if (s.kind === 'file') {
        const listed = release.index.variants.find((v) => v.id === s.variant)!.files.find((x) => x.path === `${s.variant}/${s.file}`)!;
        expect(lstatSync(at).isFile(), f.path).toBe(true);
        expect(sha(at), f.path).toBe(listed.sha256);
      }
      if (s.kind === 'snakeoil') expect(readFileSync(at), f.path).toEqual(readFileSync(s.part === 'pem' ? REPO_CERTS.snakeoil.path : SNAKEOIL_KEY));
      if (s.kind === 'descriptor') {
        const d = firmwareDescriptorSchema.parse(JSON.parse(readFileSync(at, 'utf8')));
        expect(d.mapping.device === 'flash' && [d.mapping.executable.filename, d.mapping['nvram-template']?.filename], f.path).toEqual([s.code, s.vars]);
        expect(existsSync(join(dest, s.code)) && existsSync(join(dest, s.vars)), f.path).toBe(true);
      }
    }
    // The enrolled descriptor names Debian's link, which is the secure-boot code.
    expect(sha(join(dest, '/usr/share/OVMF/OVMF_CODE_4M.ms.fd'))).toBe(sha(join(dest, '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd')));
    const receipt = await readReceipt(paths);
    expect(receipt.variants.map((v) => v.id).sort()).toEqual([...DEBIAN_VARIANTS].sort());
    expect(JSON.stringify(receipt)).not.toContain(dest);
    expect(await checkInstall(paths, receipt)).toEqual([]);

    writeFileSync(join(dest, '/usr/share/AAVMF/AAVMF_VARS.ms.fd'), 'changed');
    expect(await checkInstall(paths, receipt)).toEqual(['/usr/share/AAVMF/AAVMF_VARS.ms.fd: changed (sha256 ' + sha(join(dest, '/usr/share/AAVMF/AAVMF_VARS.ms.fd')).slice(0, 12) + '…, installed ' + receipt.variants.find((v) => v.id === 'aarch64-secureboot-enrolled-tpm2-network-release')!.files.find((f) => f.path === 'AAVMF/AAVMF_VARS.ms.fd')!.sha256.slice(0, 12) + '…)']);

    const done = await uninstall(paths, receipt, receipt.variants.map((v) => v.id), quietLog);
    expect(done.failed).toEqual([]);
    expect(treeSnapshot(dest)).toEqual({});
  });

  it('installs the same release again over itself, and leaves a file of someone else\'s alone by refusing', async () => {
    const dest = tempDir('debian-');
    const paths = pkg(dest);
    await install(paths, release);
    const before = treeSnapshot(dest);
    await install(paths, release);
    expect(treeSnapshot(dest)).toEqual(before);

    const other = tempDir('debian-');
    mkdirSync(join(other, 'usr/share/AAVMF'), { recursive: true });
    writeFileSync(join(other, 'usr/share/AAVMF/AAVMF_VARS.fd'), 'theirs');
    const untouched = treeSnapshot(other);
    expect(await failure(install(pkg(other), release))).toMatch(/AAVMF_VARS\.fd: exists and was not installed by pull/);
    expect(treeSnapshot(other)).toEqual(untouched);
  });

  it('is undone by the next pull after a crash in the middle of its renames, back to the install before it', async () => {
    const dest = tempDir('debian-');
    const paths = pkg(dest);
    await install(paths, release, ['arm-release']);
    const before = treeSnapshot(dest);
    let reached = (_: string) => {};
    const at = new Promise<string>((r) => (reached = r));
    let moved = 0;
    // As a SIGKILL would: the install never goes on after its fourth rename.
    void install(paths, release, undefined, (name) => (name.startsWith('moved') && ++moved === 4 ? (reached(name), new Promise<void>(() => {})) : Promise.resolve()));
    expect(await at).toMatch(/^moved \/usr\/share\//);
    expect(treeSnapshot(dest)).not.toEqual(before);
    const repaired = await repairDestination(paths, quietLog);
    expect(repaired.message).toMatch(/rolled back|undone/);
    expect(treeSnapshot(dest)).toEqual(before);
    expect(await checkInstall(paths, await readReceipt(paths))).toEqual([]);
  });

  it('refuses a snakeoil key pair that is not the one the release\'s store was enrolled with, changing nothing', async () => {
    const dest = tempDir('debian-');
    expect(await failure(install(pkg(dest), wrongSnakeoil))).toMatch(/its snakeoil store is not enrolled with keys\/secureboot\/snakeoil\.pem/);
    expect(treeSnapshot(dest)).toEqual({});
  });

  it('refuses, as bad usage, --layout debian without --destdir, another layout or another prefix', async () => {
    const run = (...argv: string[]) => failure(pullCommand(argv, never, {}));
    expect(await run('./release', '--layout', 'debian')).toMatch(/--layout debian goes with --destdir DIR/);
    expect(await run('./release', '--layout', 'fedora', '--destdir', '/tmp/x')).toMatch(/--layout.*"fedora".*debian/);
    expect(await run('./release', '--layout', 'debian', '--destdir', '/tmp/x', '--prefix', '/opt')).toMatch(/--prefix \/opt: Debian's layout is under \/usr/);
  });

  it('names the variant a release lacks for Debian\'s layout, and installs a part of it with --only', async () => {
    const partial = ids(release).filter((id) => !id.startsWith('ia32-'));
    expect(() => selectDebianFiles(partial, partial, false, 'v1')).toThrow(/release v1: has no variant ia32-tpm2-network-release, which Debian's \/usr\/share\/OVMF\/OVMF32_CODE_4M\.fd comes from/);
    expect(() => selectDebianFiles(ids(release), ['x64-debug'], true, 'v1')).toThrow(/--only: x64-debug has no place in Debian's layout/);

    const only = ['aarch64-secureboot-enrolled-tpm2-network-release'];
    const chosen = selectDebianFiles(ids(release), only, true, 'v1');
    // Debian's secure-boot descriptor names the empty store of the plain build: left out without it.
    expect(chosen.skipped.map((f) => f.path)).toEqual(['/usr/share/qemu/firmware/50-edk2-aarch64-secure.json']);
    const dest = tempDir('debian-');
    await install(pkg(dest), release, only);
    expect(Object.keys(treeSnapshot(dest)).map((p) => p.slice(dest.length + 1))).toEqual(expect.arrayContaining([
      'usr/share/AAVMF/AAVMF_CODE.ms.fd', 'usr/share/AAVMF/AAVMF_CODE.secboot.fd', 'usr/share/AAVMF/AAVMF_VARS.ms.fd',
      'usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.pem', 'usr/share/qemu/firmware/40-edk2-aarch64-secure-enrolled.json',
    ]));
    expect(existsSync(join(dest, 'usr/share/OVMF'))).toBe(false);
  });
});
