/**
 * Enrolled Secure Boot stores, proven by booting them, for X64 (SMM) and AARCH64 images built
 * as Debian builds its secure-boot images, without the built-in UEFI Shell: the same
 * checks as Debian's autopkgtest (debian/tests/shell.py of the edk2 package we build from),
 * with its expectations (`grub> ` for a trusted chain, `BdsDxe: failed to load.*: Access
 * Denied` for an untrusted one), against our own builds of ci-matrix.yaml (from the artifact
 * cache when the matrix test built them):
 * - each store holds exactly the certificates it should (dumped with virt-fw-vars, the ESLs
 *   parsed here, fingerprints compared with Microsoft's published ones);
 * - in the snakeoil and lab stores Secure Boot is on (the UEFI Shell, signed with the store's
 *   key, reads SecureBoot = 1 and SetupMode = 0), an unsigned Shell is refused, one signed
 *   with another key is refused;
 * - the microsoft store boots Debian's Microsoft-signed shim and its grub to `grub> `, and
 *   refuses them with their signatures removed; the snakeoil store refuses Microsoft's
 *   signature and runs shim and grub once signed with the snakeoil key.
 * Signing happens in the builder image, with its sbsigntool.
 */
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_CERTS } from '../../pipeline/config/key-sets.ts';
import type { Arch, BuildRecord, Manifest } from '../../pipeline/domain.ts';
import { fillArgv } from '../../pipeline/plan/qemu-launch.ts';
import { archFacts } from '../../pipeline/platforms.ts';
import { REPO } from '../helpers/config.ts';
import { QemuConsole } from '../helpers/qemu-console.ts';
import { SoftwareTpm } from '../helpers/software-tpm.ts';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-sb-'));
chmodSync(work, 0o755);
const out = join(work, 'artifacts');
let container = '';
afterAll(() => {
  if (container) execFileSync('docker', ['rm', '-f', container], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
});

/** Debian autopkgtest's two outcomes, as it words them. */
const TRUSTED = /grub> /;
const DENIED = /BdsDxe: failed to load.*: Access Denied/;
const SHELL = /Shell> /;
const BOOT_TIMEOUT = 300_000;

interface Target {
  readonly id: string;
  readonly arch: Arch;
  /** Debian package names, and where in them shim and grub are. */
  readonly debArch: 'amd64' | 'arm64';
  readonly shim: string;
  readonly grub: string;
  /** The name shim loads grub by, beside it. */
  readonly grubName: string;
}

const TARGETS: readonly Target[] = [
  { id: 'x64-secureboot-smm-debug', arch: 'X64', debArch: 'amd64', shim: 'usr/lib/shim/shimx64.efi.signed', grub: 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed', grubName: 'grubx64.efi' },
  { id: 'aarch64-secureboot-tpm2-debug', arch: 'AARCH64', debArch: 'arm64', shim: 'usr/lib/shim/shimaa64.efi.signed', grub: 'usr/lib/grub/arm64-efi-signed/grubaa64.efi.signed', grubName: 'grubaa64.efi' },
];

/** Microsoft's certificates, from Microsoft's publications (subject CN, SHA-256 of the DER). */
const MICROSOFT = {
  kek2011: { cn: 'Microsoft Corporation KEK CA 2011', sha256: 'a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503' },
  kek2023: { cn: 'Microsoft Corporation KEK 2K CA 2023', sha256: '3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d' },
  pca2011: { cn: 'Microsoft Windows Production PCA 2011', sha256: 'e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961' },
  uefi2011: { cn: 'Microsoft Corporation UEFI CA 2011', sha256: '48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507' },
  windows2023: { cn: 'Windows UEFI CA 2023', sha256: '076f1fea90ac29155ebf77c17682f75f1fdd1be196da302dc8461e350a9ae330' },
  uefi2023: { cn: 'Microsoft UEFI CA 2023', sha256: 'f6124e34125bee3fe6d79a574eaa7b91c0e7bd9d929c1a321178efd611dad901' },
};
const fingerprint = (pemFile: string) => new X509Certificate(readFileSync(pemFile)).fingerprint256.replaceAll(':', '').toLowerCase();
const PK = fingerprint(REPO_CERTS.pk.path);
const SNAKEOIL = fingerprint(REPO_CERTS.snakeoil.path);
const LAB = fingerprint(join(REPO, 'test/fixtures/secureboot/lab.pem'));

let manifests: Record<string, Manifest> = {};

/** Runs a command in the builder image, in the work directory (mounted at /w). */
function inBuilder(argv: readonly string[]): string {
  return execFileSync('docker', ['exec', '-w', '/w', container, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Removes every signature of a PE image (Debian's shim carries two). */
function stripSignatures(file: string): void {
  for (let i = 0; i < 8; i++) {
    try {
      inBuilder(['sbattach', '--remove', file]);
    } catch {
      return;
    }
  }
  throw new Error(`${file} still signed after 8 removals`);
}

const sign = (key: 'snakeoil' | 'lab', input: string, output: string) =>
  inBuilder(['sbsign', '--key', `keys/${key}.key`, '--cert', `keys/${key}.pem`, '--output', output, input]);

beforeAll(async () => {
  const ids = TARGETS.map((t) => t.id);
  await exec('npm', ['run', '-s', 'matrix', '--', '--config', 'test/fixtures/ci-matrix.yaml', '--only', ids.join(','), '--out', out],
    { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '' } }).catch((err: { stderr: string }) => {
    throw new Error(`npm run matrix failed: ${err.stderr.slice(-3000)}`);
  });
  manifests = Object.fromEntries(ids.map((id) => [id, JSON.parse(readFileSync(join(out, id, 'manifest.json'), 'utf8')) as Manifest]));

  // Debian's shim-signed and grub-efi-*-signed, for both architectures, from the host's apt.
  const debs = join(work, 'debs');
  mkdirSync(debs);
  chmodSync(debs, 0o755);
  execFileSync('apt-get', ['download', '-q', 'shim-signed:amd64', 'grub-efi-amd64-signed:amd64', 'shim-signed:arm64', 'grub-efi-arm64-signed:arm64'], { cwd: debs, stdio: 'ignore' });
  for (const deb of readdirSync(debs)) execFileSync('dpkg-deb', ['-x', join(debs, deb), join(work, 'debian')]);

  mkdirSync(join(work, 'keys'));
  copyFileSync(join(REPO, 'keys/secureboot/snakeoil.key'), join(work, 'keys/snakeoil.key'));
  copyFileSync(REPO_CERTS.snakeoil.path, join(work, 'keys/snakeoil.pem'));
  copyFileSync(join(REPO, 'test/fixtures/secureboot/lab.key'), join(work, 'keys/lab.key'));
  copyFileSync(join(REPO, 'test/fixtures/secureboot/lab.pem'), join(work, 'keys/lab.pem'));

  // One container of the builder image for all the signing and dumping.
  const image = (JSON.parse(readFileSync(join(out, ids[0]!, 'build-record.json'), 'utf8')) as BuildRecord).image;
  container = execFileSync('docker', ['run', '-d', '--rm', '--network', 'none', '--user', `${process.getuid!()}:${process.getgid!()}`, '--label', 'edk2-matrix.test=secure-boot',
    '-v', `${work}:/w`, image, 'sleep', '3600'], { encoding: 'utf8' }).trim();

  for (const t of TARGETS) {
    const boot = archFacts(t.arch).removableBootFile;
    const esp = (name: string) => {
      const dir = join(work, 'esp', `${t.id}-${name}`, 'EFI', 'BOOT');
      mkdirSync(dir, { recursive: true });
      return `esp/${t.id}-${name}/EFI/BOOT`;
    };
    // Debian's, as shipped: shim signed by Microsoft, grub by Debian (trusted through shim).
    const signed = esp('debian-signed');
    copyFileSync(join(work, 'debian', t.shim), join(work, signed, boot));
    copyFileSync(join(work, 'debian', t.grub), join(work, signed, t.grubName));
    // The same binaries with no signature at all.
    const unsigned = esp('unsigned');
    copyFileSync(join(work, 'debian', t.shim), join(work, unsigned, boot));
    copyFileSync(join(work, 'debian', t.grub), join(work, unsigned, t.grubName));
    stripSignatures(`${unsigned}/${boot}`);
    stripSignatures(`${unsigned}/${t.grubName}`);
    // Both signed with the snakeoil key, as Debian's snakeoil test does.
    const snakeoil = esp('snakeoil-signed');
    sign('snakeoil', `${unsigned}/${boot}`, `${snakeoil}/${boot}`);
    sign('snakeoil', `${unsigned}/${t.grubName}`, `${snakeoil}/${t.grubName}`);
    // Our own UEFI Shell: unsigned, signed with the snakeoil key, signed with the lab key.
    const shell = `artifacts/${t.id}/Shell.efi`;
    copyFileSync(join(work, shell), join(work, esp('shell-unsigned'), boot));
    sign('snakeoil', shell, `${esp('shell-snakeoil')}/${boot}`);
    sign('lab', shell, `${esp('shell-lab')}/${boot}`);
  }
}, 60 * 60_000);

/** Boots a target with one of its enrolled stores (a fresh copy) and a FAT drive of `espName`. */
function boot(t: Target, keySet: string, espName: string, extraArgs: readonly string[] = []): QemuConsole {
  const m = manifests[t.id]!;
  const store = m.enrolled.find((s) => s.keySet === keySet)!;
  const vars = join(work, `vars-${t.id}-${keySet}-${espName}-${Date.now()}`);
  copyFileSync(join(out, t.id, store.varsTemplate), vars);
  const esp = join(work, 'esp', `${t.id}-${espName}`);
  return new QemuConsole([
    ...fillArgv(m.qemu.argv, join(out, t.id, m.qemu.code), vars), '-accel', 'tcg',
    '-drive', `if=none,id=esp,format=raw,readonly=on,file=fat:${esp}`, '-device', 'virtio-blk-pci,drive=esp', ...extraArgs,
  ]);
}

/** Which of Debian's two outcomes a boot reaches (`trusted` = `grub> ` or the Shell). */
async function outcome(t: Target, keySet: string, espName: string): Promise<'trusted' | 'denied'> {
  const qemu = boot(t, keySet, espName);
  try {
    const { index } = await qemu.expect([espName.startsWith('shell') ? SHELL : TRUSTED, DENIED], BOOT_TIMEOUT);
    return index === 0 ? 'trusted' : 'denied';
  } finally {
    await qemu.close();
  }
}

/** Both targets at once (two cores): one boot each. */
const eachTarget = <T>(fn: (t: Target) => Promise<T>) => Promise.all(TARGETS.map(fn));

interface Esl { readonly type: string; readonly entries: { readonly owner: string; readonly data: Buffer }[] }

function guid(b: Buffer): string {
  const h = (x: Buffer) => x.toString('hex');
  const le = (x: Buffer) => h(Buffer.from(x).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

/** EFI_SIGNATURE_LISTs, as UEFI 2.10 §32.4.1 lays them out. */
function parseEsls(data: Buffer): Esl[] {
  const lists: Esl[] = [];
  for (let at = 0; at < data.length;) {
    const listSize = data.readUInt32LE(at + 16);
    const headerSize = data.readUInt32LE(at + 20);
    const sigSize = data.readUInt32LE(at + 24);
    const entries = [];
    for (let s = at + 28 + headerSize; s < at + listSize; s += sigSize) {
      entries.push({ owner: guid(data.subarray(s, s + 16)), data: data.subarray(s + 16, s + sigSize) });
    }
    lists.push({ type: guid(data.subarray(at, at + 16)), entries });
    at += listSize;
  }
  return lists;
}

const X509 = 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072';

/** A store's PK, KEK and db as certificate fingerprints and CNs, and its other variables, as virt-fw-vars reads them. */
function dumpStore(t: Target, keySet: string) {
  const store = manifests[t.id]!.enrolled.find((s) => s.keySet === keySet)!;
  const json = `dump-${t.id}-${keySet}.json`;
  inBuilder(['virt-fw-vars', '--input', `artifacts/${t.id}/${store.varsTemplate}`, '--output-json', json]);
  const vars = (JSON.parse(readFileSync(join(work, json), 'utf8')) as { variables: { name: string; data: string }[] }).variables;
  const byName = (name: string) => Buffer.from(vars.find((v) => v.name === name)?.data ?? '', 'hex');
  const certs = (name: string) => parseEsls(byName(name)).flatMap((l) => {
    expect(l.type, `${t.id} ${keySet} ${name}`).toBe(X509);
    return l.entries.map((e) => {
      const x = new X509Certificate(e.data);
      return { sha256: x.fingerprint256.replaceAll(':', '').toLowerCase(), cn: /CN=([^\n]*)/.exec(x.subject)![1], owner: e.owner };
    });
  });
  return {
    pk: certs('PK'), kek: certs('KEK'), db: certs('db'),
    dbx: parseEsls(byName('dbx')),
    secureBootEnable: byName('SecureBootEnable').toString('hex'), customMode: byName('CustomMode').toString('hex'),
  };
}

describe('enrolled Secure Boot stores, booted', () => {
  it('holds exactly the listed certificates in each store, and says so in the manifest', () => {
    for (const t of TARGETS) {
      const ms = dumpStore(t, 'microsoft');
      expect(ms.pk.map((c) => c.sha256)).toEqual([PK]);
      expect(ms.kek.map((c) => c.sha256)).toEqual([PK, MICROSOFT.kek2011.sha256, MICROSOFT.kek2023.sha256]);
      expect(ms.kek.slice(1).map((c) => c.cn)).toEqual([MICROSOFT.kek2011.cn, MICROSOFT.kek2023.cn]);
      const db = [MICROSOFT.pca2011, MICROSOFT.uefi2011, MICROSOFT.windows2023, MICROSOFT.uefi2023];
      expect(ms.db.map((c) => c.sha256)).toEqual(db.map((c) => c.sha256));
      expect(ms.db.map((c) => c.cn)).toEqual(db.map((c) => c.cn));
      // Microsoft's own owner GUID on its certificates, as Microsoft and distributions enroll them.
      expect(new Set([...ms.kek.slice(1), ...ms.db].map((c) => c.owner))).toEqual(new Set(['77fa9abd-0359-4d32-bd60-28f4e78f784b']));
      for (const [set, fp] of [['snakeoil', SNAKEOIL], ['lab', LAB]] as const) {
        const s = dumpStore(t, set);
        expect([s.pk, s.kek, s.db].map((l) => l.map((c) => c.sha256)), `${t.id} ${set}`).toEqual([[fp], [fp], [fp]]);
      }
      for (const set of ['microsoft', 'snakeoil', 'lab']) {
        const s = dumpStore(t, set);
        expect([s.secureBootEnable, s.customMode], `${t.id} ${set}`).toEqual(['01', '00']);
        // No revocation list is available offline: the placeholder distributions use (SHA-256 of nothing).
        expect(s.dbx.flatMap((l) => l.entries.map((e) => e.data.toString('hex')))).toEqual(['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']);
      }
      const recorded = manifests[t.id]!.enrolled.find((s) => s.keySet === 'microsoft')!.certificates;
      expect(recorded.map((c) => [c.variable, c.sha256])).toEqual([
        ['PK', ms.pk[0]!.sha256], ...ms.kek.map((c) => ['KEK', c.sha256]), ...ms.db.map((c) => ['db', c.sha256]),
      ]);
    }
  });

  it('turns Secure Boot on: the Shell signed with the store\'s key reads SecureBoot = 1 and SetupMode = 0', async () => {
    await eachTarget(async (t) => {
      for (const [set, shell] of [['snakeoil', 'shell-snakeoil'], ['lab', 'shell-lab']] as const) {
        const qemu = boot(t, set, shell);
        try {
          await qemu.expect([/BdsDxe: starting Boot[0-9A-F]+ /], BOOT_TIMEOUT);
          await qemu.expect([SHELL], BOOT_TIMEOUT);
          qemu.send('dmpstore SecureBoot -guid 8BE4DF61-93CA-11D2-AA0D-00E098032B8C');
          const secureBoot = await qemu.expect([/SecureBoot' DataSize = 0x01\s+00000000: (0[01])/], 60_000);
          qemu.send('dmpstore SetupMode -guid 8BE4DF61-93CA-11D2-AA0D-00E098032B8C');
          const setupMode = await qemu.expect([/SetupMode' DataSize = 0x01\s+00000000: (0[01])/], 60_000);
          expect([secureBoot.match[1], setupMode.match[1]], `${t.id} ${set}`).toEqual(['01', '00']);
        } finally {
          await qemu.close();
        }
      }
    });
  }, 30 * 60_000);

  it('refuses the Shell unsigned, or signed with a key the store does not hold', async () => {
    const results = await eachTarget(async (t) => [
      await outcome(t, 'snakeoil', 'shell-unsigned'),
      await outcome(t, 'snakeoil', 'shell-lab'),
      await outcome(t, 'lab', 'shell-snakeoil'),
    ]);
    expect(results).toEqual(TARGETS.map(() => ['denied', 'denied', 'denied']));
  }, 30 * 60_000);

  it('boots Debian\'s Microsoft-signed shim and grub to grub> with the microsoft keys, and refuses them unsigned', async () => {
    const results = await eachTarget(async (t) => [await outcome(t, 'microsoft', 'debian-signed'), await outcome(t, 'microsoft', 'unsigned')]);
    expect(results).toEqual(TARGETS.map(() => ['trusted', 'denied']));
  }, 30 * 60_000);

  it('refuses Microsoft\'s signature with the snakeoil keys, and runs shim and grub signed with the snakeoil key', async () => {
    const results = await eachTarget(async (t) => [await outcome(t, 'snakeoil', 'debian-signed'), await outcome(t, 'snakeoil', 'snakeoil-signed')]);
    expect(results).toEqual(TARGETS.map(() => ['denied', 'trusted']));
  }, 30 * 60_000);
});

describe('TPM 2.0, against a real software TPM', () => {
  const t = TARGETS.find((x) => x.id === 'aarch64-secureboot-tpm2-debug')!;

  /** Boots with swtpm attached until `until`, kills QEMU (PCRs survive only that), reads PCRs 0-7. */
  async function measuredBoot(keySet: string, espName: string, until: RegExp): Promise<string[]> {
    const tpm = await SoftwareTpm.start(join(work, `tpm-${keySet}-${espName}`));
    try {
      const qemu = boot(t, keySet, espName, tpm.qemuArgs('tpm-tis-device'));
      try {
        await qemu.expect([until], BOOT_TIMEOUT);
      } finally {
        await qemu.close();
      }
      return await tpm.readPcrs();
    } finally {
      await tpm.stop();
    }
  }

  it('measures the boot into the TPM: PCRs 0-7 extended, and PCR 7 follows the Secure Boot keys', async () => {
    const snakeoil = await measuredBoot('snakeoil', 'shell-snakeoil', SHELL);
    const microsoft = await measuredBoot('microsoft', 'shell-snakeoil', DENIED);
    process.stderr.write(`${t.id} PCRs after boot (sha256):\n${snakeoil.map((d, i) => `  PCR ${i}: ${d}${microsoft[i] !== d ? ` (microsoft store: ${microsoft[i]})` : ''}`).join('\n')}\n`);
    expect(snakeoil).toHaveLength(8);
    // A TPM that was started but never extended has every PCR at zero.
    for (const [i, d] of snakeoil.entries()) expect(d, `PCR ${i}`).not.toBe('0'.repeat(64));
    // PCR 7 holds the Secure Boot policy (SecureBoot, PK, KEK, db, dbx) as the firmware measured it.
    expect(microsoft[7]).not.toBe(snakeoil[7]);
  }, 30 * 60_000);
});
