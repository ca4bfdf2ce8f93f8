/**
 * pull, for real: a release assembled and signed from real builds (ci-matrix.yaml's ia32-debug,
 * aarch64-debug and x64-secureboot-smm-debug, from the artifact cache when the matrix test
 * built them), served over HTTP from loopback, pulled into temporary XDG directories (a user
 * install), and picked up by a real libvirt daemon (a session daemon of the `nobody` user,
 * which reads those directories), whose domains boot it to the UEFI Shell. Every drill leaves
 * the destination exactly as it was.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Receipt } from '../../pipeline/domain.ts';
import { formatPublicKey, formatSecretKey, generateKey } from '../../pipeline/release/minisign.ts';
import { REPO } from '../helpers/config.ts';
import { forgeRelease } from '../helpers/forge-release.ts';
import { serveDirectory, type StaticServer } from '../helpers/static-server.ts';
import { treeSnapshot } from '../helpers/tree-snapshot.ts';
import { stripAnsi } from '../../pipeline/verify/boot.ts';
import { pack } from 'tar-stream';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const IDS = ['aarch64-debug', 'ia32-debug', 'x64-secureboot-smm-debug'];
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-pull-'));
chmodSync(work, 0o755);
const key = generateKey();
const pub = join(work, 'release.pub');
const secret = join(work, 'release.key');
writeFileSync(pub, formatPublicKey(key));
writeFileSync(secret, formatSecretKey(key), { mode: 0o600 });
const release = join(work, 'release');
const cache = join(work, 'cache');
let server: StaticServer;

interface Run { code: number; stdout: string; stderr: string }

/** Runs an npm script; asynchronously, since the HTTP server answers from this process's event loop. */
function npm(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '-s', script, '--', ...args], { cwd: REPO, env: { ...process.env, GITHUB_ACTIONS: '', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 128) : 0, stdout, stderr }));
  });
}

/** A fresh user install root: XDG directories under `dir`. */
function userRoot(name: string): { root: string; env: NodeJS.ProcessEnv; data: string; config: string } {
  const root = join(work, name);
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  return { root, data: join(root, 'data'), config: join(root, 'config'), env: { XDG_DATA_HOME: join(root, 'data'), XDG_CONFIG_HOME: join(root, 'config') } };
}

/** `trust`: the only key pull trusts (--trust may be repeated, and every key given is trusted). */
const pull = (dest: { env: NodeJS.ProcessEnv }, args: readonly string[], trust = pub) => npm('pull', ['--user', '--cache-dir', cache, '--trust', trust, ...args], dest.env);

beforeAll(async () => {
  const artifacts = join(work, 'artifacts');
  const built = await npm('matrix', ['--config', 'test/fixtures/ci-matrix.yaml', '--only', IDS.join(','), '--out', artifacts]);
  if (built.code !== 0) throw new Error(`npm run matrix failed: ${built.stderr.slice(-3000)}`);
  const assembled = await npm('release', ['assemble', '--out', release, '--tag', 'v2026.11.26-test', '--from', artifacts]);
  if (assembled.code !== 0) throw new Error(`assemble failed: ${assembled.stderr}`);
  const signed = await npm('release', ['sign', release, '--key', secret]);
  if (signed.code !== 0) throw new Error(`sign failed: ${signed.stderr}`);
  server = await serveDirectory(release);
}, 60 * 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('pull over HTTP into a user install', () => {
  it('verifies, installs, and a second pull of the same release downloads no archive', async () => {
    const dest = userRoot('first');
    const r = await pull(dest, [server.url, '--only', 'ia32-debug,x64-*']);
    expect(r.stderr + r.stdout).toMatch(/installed 2 variant\(s\)/);
    expect(r.code).toBe(0);
    // The secure-boot variant's own descriptor and one per enrolled store (40, 41, 42 published; 30 higher here).
    expect(readdirSync(join(dest.config, 'qemu', 'firmware')).sort()).toEqual([
      '70-edk2-matrix-x64-secureboot-smm-debug-microsoft.json', '71-edk2-matrix-x64-secureboot-smm-debug-snakeoil.json',
      '72-edk2-matrix-x64-secureboot-smm-debug-lab.json', '80-edk2-matrix-x64-secureboot-smm-debug.json', '90-edk2-matrix-ia32-debug.json',
    ]);
    expect(server.requests.filter((n) => n.endsWith('.tar.xz')).sort()).toEqual(['ia32-debug.tar.xz', 'x64-secureboot-smm-debug.tar.xz']);
    const before = server.requests.length;
    expect((await pull(dest, [server.url, '--only', 'ia32-debug,x64-*'])).code).toBe(0);
    expect(server.requests.slice(before).filter((n) => n.endsWith('.tar.xz'))).toEqual([]);
    expect(await npm('pull', ['--user', '--check'], dest.env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/2 variant\(s\) checked .*: as installed/) });
  });

  it('re-verifies a cached download before using it, and fetches it again when it was altered', async () => {
    const dest = userRoot('recached');
    const cached = readdirSync(join(cache, 'downloads', 'releases')).find((n) => n.endsWith('-ia32-debug.tar.xz'))!;
    writeFileSync(join(cache, 'downloads', 'releases', cached), 'altered');
    const before = server.requests.length;
    expect((await pull(dest, [server.url, '--only', 'ia32-debug'])).code).toBe(0);
    expect(server.requests.slice(before)).toContain('ia32-debug.tar.xz');
  });

  it('reports drift with --check and removes exactly the install with uninstall', async () => {
    const dest = userRoot('drift');
    expect((await pull(dest, [server.url, '--only', 'ia32-debug'])).code).toBe(0);
    writeFileSync(join(dest.data, 'edk2-matrix', 'ia32-debug', 'OVMF_VARS.fd'), 'changed');
    const check = await npm('pull', ['--user', '--check'], dest.env);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^drift: .*ia32-debug-[0-9a-f]+\/OVMF_VARS.fd: changed/m);
    expect((await npm('pull', ['--user', 'uninstall'], dest.env)).code).toBe(0);
    // Everything pull made goes, directories included; the XDG roots did not exist before it.
    expect(existsSync(dest.data)).toBe(false);
    expect(existsSync(dest.config)).toBe(false);
  });
});

describe('drills: each leaves the destination exactly as it was', () => {
  /** A destination with ia32-debug installed from the release; the drill then tries to pull aarch64-debug. */
  async function installed(name: string) {
    const dest = userRoot(name);
    const r = await pull(dest, [server.url, '--only', 'ia32-debug']);
    if (r.code !== 0) throw new Error(r.stderr);
    return { dest, before: treeSnapshot(dest.data, dest.config) };
  }

  /** A copy of the release, changed by `tamper`, served on its own. */
  async function served(tamper: (dir: string) => void | Promise<void>): Promise<StaticServer> {
    const copy = join(work, `copy-${Math.random().toString(36).slice(2)}`);
    cpSync(release, copy, { recursive: true });
    await tamper(copy);
    return serveDirectory(copy);
  }

  async function drill(name: string, source: (s: StaticServer) => Promise<StaticServer> | StaticServer, args: string[], link: RegExp, trust = pub): Promise<void> {
    const { dest, before } = await installed(name);
    const s = await source(server);
    try {
      const r = await pull(dest, [s.url, '--only', 'aarch64-debug', '--cache-dir', join(work, `cache-${name}`), ...args], trust);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('edk2-matrix: '))).toEqual([expect.stringMatching(link)]);
      expect(treeSnapshot(dest.data, dest.config)).toEqual(before);
    } finally {
      if (s !== server) await s.close();
    }
  }

  const flip = (file: string, at: number) => {
    const data = readFileSync(file);
    data[at]! ^= 0x01;
    writeFileSync(file, data);
  };

  it('a flipped byte in an archive', () => drill('flipped', () => served((d) => flip(join(d, 'aarch64-debug.tar.xz'), 4096)), [], /^edk2-matrix: asset aarch64-debug.tar.xz: does not match SHA256SUMS/));

  it('a wrong key', () => {
    const other = join(work, 'other.pub');
    writeFileSync(other, formatPublicKey(generateKey()));
    return drill('wrongkey', (s) => s, [], /^edk2-matrix: signature: .*made with key \w+, not with the trusted keys? /, other);
  });

  it('a truncated download', () => drill('truncated', async () => {
    const s = await served(() => {});
    s.faults = { 'aarch64-debug.tar.xz': { dropAfter: 100_000 } };
    return s;
  }, [], /^edk2-matrix: asset aarch64-debug.tar.xz: truncated/));

  it('a server that stops answering mid-transfer', () => drill('hanging', async () => {
    const s = await served(() => {});
    s.faults = { 'aarch64-debug.tar.xz': { hangAfter: 100_000 } };
    return s;
  }, ['--timeout', '2s'], /^edk2-matrix: asset aarch64-debug.tar.xz: the server at .* sent nothing for 2 s \(after 100000 bytes\)/), 30_000);

  it('an extra asset listed in SHA256SUMS', () => drill('extra', () => served((d) => {
    writeFileSync(join(d, 'bonus.tar.xz'), 'x');
    writeFileSync(join(d, 'SHA256SUMS'), `${readFileSync(join(d, 'SHA256SUMS'), 'utf8')}${'0'.repeat(64)}  bonus.tar.xz\n`);
  }), [], /^edk2-matrix: signature: SHA256SUMS.minisig does not verify SHA256SUMS/));

  it('an extra asset beside a release read from a directory', async () => {
    const { dest, before } = await installed('extradir');
    const copy = join(work, 'extradir-release');
    cpSync(release, copy, { recursive: true });
    writeFileSync(join(copy, 'bonus.tar.xz'), 'x');
    const r = await pull(dest, [copy, '--only', 'aarch64-debug']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^edk2-matrix: asset bonus.tar.xz: is not listed in SHA256SUMS \(extra asset\)/m);
    expect(treeSnapshot(dest.data, dest.config)).toEqual(before);
  });

  it('a missing asset', () => drill('missing', () => served((d) => rmSync(join(d, 'aarch64-debug.tar.xz'))), [], /^edk2-matrix: asset aarch64-debug.tar.xz: is missing \(404 from /));

  it('an archive with a .. entry, even signed by the trusted key', async () => {
    // tar-stream writes whatever name it is given; the publisher's own key signs the result.
    const hostile = pack();
    hostile.entry({ name: 'aarch64-debug/../../evil.efi', mode: 0o644 }, Buffer.from('evil'));
    hostile.finalize();
    const chunks: Buffer[] = [];
    for await (const c of hostile as AsyncIterable<Buffer>) chunks.push(c);
    const tar = Buffer.concat(chunks);
    await drill('dotdot', () => served((d) => forgeRelease(d, key, (dir) => {
      execFileSync('sh', ['-c', 'xz -c > aarch64-debug.tar.xz'], { cwd: dir, input: tar });
    })), [], /^edk2-matrix: aarch64-debug.tar.xz: aarch64-debug\/\.\.\/\.\.\/evil.efi: unsafe archive entry/);
  });

  it.skipIf(!isRoot)('a full disk at the destination', async () => {
    const dest = userRoot('full');
    mkdirSync(dest.data, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dest.data]);
    try {
      expect((await pull(dest, [server.url, '--only', 'ia32-debug'])).code).toBe(0);
      const before = treeSnapshot(dest.data, dest.config);
      const r = await pull(dest, [server.url, '--only', 'aarch64-debug']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^edk2-matrix: install into .*: ENOSPC .*nothing was changed/m);
      expect(treeSnapshot(dest.data, dest.config)).toEqual(before);
    } finally {
      execFileSync('umount', [dest.data]);
    }
  });

  it('SIGINT during the install', async () => {
    const { dest, before } = await installed('sigint');
    const store = join(dest.data, 'edk2-matrix', '.store');
    const child = spawn('npm', ['run', '-s', 'pull', '--', '--user', '--cache-dir', cache, '--trust', pub, server.url, '--only', 'aarch64-debug'],
      { cwd: REPO, detached: true, env: { ...process.env, ...dest.env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 130 : 1))));
    // Interrupt as a terminal does (the whole process group) once the new files are being staged.
    let sent = false;
    const until = Date.now() + 120_000;
    while (!sent && Date.now() < until) {
      if (readdirSync(store).some((n) => n.includes('stage-aarch64-debug'))) {
        process.kill(-child.pid!, 'SIGINT');
        sent = true;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(sent).toBe(true);
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/SIGINT: stopping, cleaning up/);
    expect(treeSnapshot(dest.data, dest.config)).toEqual(before);
    const receipt = JSON.parse(readFileSync(join(dest.data, 'edk2-matrix', 'receipt.json'), 'utf8')) as Receipt;
    expect(receipt.variants.map((v) => v.id)).toEqual(['ia32-debug']);
  }, 180_000);
});

/** The `nobody` user's libvirt session: it reads $XDG_CONFIG_HOME/qemu/firmware (a root daemon does not). */
function libvirtSession(dest: { root: string; config: string }) {
  const home = join(dest.root, 'home');
  for (const d of [home, join(dest.root, 'cache'), join(dest.root, 'run'), dest.config]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, NOBODY, NOBODY);
  }
  chmodSync(join(dest.root, 'run'), 0o700);
  const env = [`PATH=/usr/sbin:/usr/bin:/sbin:/bin`, `HOME=${home}`, `XDG_CONFIG_HOME=${dest.config}`, `XDG_DATA_HOME=${join(dest.root, 'data')}`,
    `XDG_CACHE_HOME=${join(dest.root, 'cache')}`, `XDG_RUNTIME_DIR=${join(dest.root, 'run')}`];
  const virsh = (...args: string[]) => execFileSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'env', '-i', ...env, 'virsh', '-c', 'qemu:///session', ...args], { encoding: 'utf8' });
  return { virsh, home };
}

function domainXml(o: { name: string; arch: 'i686' | 'x86_64'; serial: string; secureBoot: boolean; enrolledKeys?: boolean; disk?: string }): string {
  const enrolled = o.enrolledKeys === undefined ? '' : `<feature enabled='${o.enrolledKeys ? 'yes' : 'no'}' name='enrolled-keys'/>`;
  return `<domain type='qemu'>
  <name>${o.name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'>
    <type arch='${o.arch}' machine='q35'>hvm</type>
    ${o.secureBoot ? `<firmware><feature enabled='yes' name='secure-boot'/>${enrolled}</firmware>` : ''}
  </os>
  <features><acpi/>${o.secureBoot ? "<smm state='on'/>" : ''}</features>
  <devices>
    ${o.disk ? `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${o.disk}'/><target dev='vda' bus='virtio'/><readonly/></disk>` : ''}
    <serial type='file'><source path='${o.serial}'/><target port='0'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}


async function waitForShell(serial: string, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (existsSync(serial) && /Shell> /.test(stripAnsi(readFileSync(serial, 'latin1')))) return (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no UEFI Shell prompt on ${serial} within ${timeoutMs / 1000} s: ${stripAnsi(existsSync(serial) ? readFileSync(serial, 'latin1') : '').slice(-500)}`);
}

const hasLibvirt = spawnSync('sh', ['-c', 'command -v virsh && command -v libvirtd && command -v setpriv && command -v mcopy']).status === 0;

describe.skipIf(!isRoot || !hasLibvirt)('libvirt picks pulled firmware by itself', () => {
  const dest = userRoot('libvirt');
  let session: ReturnType<typeof libvirtSession>;
  const loaderOf = (name: string) => /<loader[^>]*>([^<]+)<\/loader>/.exec(session.virsh('dumpxml', name))?.[1];
  const started: string[] = [];

  async function boot(name: string, xml: string): Promise<void> {
    const file = join(dest.root, 'home', `${name}.xml`);
    writeFileSync(file, xml);
    session.virsh('define', file);
    started.push(name);
    session.virsh('start', name);
  }

  function stop(name: string): void {
    try { session.virsh('destroy', name); } catch { /* not running */ }
    try { session.virsh('undefine', name, '--nvram'); } catch { /* not defined */ }
  }

  beforeAll(async () => {
    session = libvirtSession(dest);
    const r = await pull(dest, [server.url, '--only', 'ia32-debug,x64-secureboot-smm-debug']);
    if (r.code !== 0) throw new Error(r.stderr);
    process.stderr.write(`libvirt: ${session.virsh('version').trim().replace(/\n/g, '; ')}\n`);
  }, 120_000);

  afterAll(() => {
    for (const name of started) stop(name);
    // The session daemons would leave by themselves after their idle timeout; the test does not wait.
    spawnSync('pkill', ['-U', String(NOBODY), '-x', 'libvirtd']);
    spawnSync('pkill', ['-U', String(NOBODY), '-x', 'virtlogd']);
  });

  it('lists our firmware in virsh domcapabilities', () => {
    const ia32 = session.virsh('domcapabilities', '--arch', 'i686', '--machine', 'q35', '--virttype', 'qemu');
    const x64 = session.virsh('domcapabilities', '--arch', 'x86_64', '--machine', 'q35', '--virttype', 'qemu');
    const loaders = (xml: string) => [...xml.matchAll(/<value>([^<]+\.(?:fd|raw))<\/value>/g)].map((m) => m[1]!);
    process.stderr.write(`virsh domcapabilities (i686 q35) loaders: ${loaders(ia32).join(', ')}\nvirsh domcapabilities (x86_64 q35) loaders: ${loaders(x64).join(', ')}\n`);
    expect(loaders(ia32)).toContain(join(dest.data, 'edk2-matrix', 'ia32-debug', 'OVMF_CODE.fd'));
    expect(loaders(x64)).toContain(join(dest.data, 'edk2-matrix', 'x64-secureboot-smm-debug', 'OVMF_CODE.fd'));
  });

  it('boots an i686 domain that asks only for firmware=efi with our IA32 build, to the UEFI Shell', async () => {
    const serial = join(dest.root, 'home', 'ia32.serial.log');
    await boot('edk2-matrix-test-ia32', domainXml({ name: 'edk2-matrix-test-ia32', arch: 'i686', serial, secureBoot: false }));
    expect(loaderOf('edk2-matrix-test-ia32')).toBe(join(dest.data, 'edk2-matrix', 'ia32-debug', 'OVMF_CODE.fd'));
    const seconds = await waitForShell(serial);
    process.stderr.write(`libvirt i686 domain: UEFI Shell after ${seconds.toFixed(1)} s\n`);
    stop('edk2-matrix-test-ia32');
  }, 180_000);

  it('gives a secure-boot domain the distribution\'s firmware, and ours once pulled with --prefer, which boots to the Shell', async () => {
    const name = 'edk2-matrix-test-sb';
    const ours = join(dest.data, 'edk2-matrix', 'x64-secureboot-smm-debug');
    // Secure-boot builds do not boot their built-in Shell: offer it on a FAT disk, as verification does.
    const img = join(dest.root, 'home', 'shell.img');
    execFileSync('mkfs.fat', ['-C', img, '8192'], { stdio: 'ignore' });
    execFileSync('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT']);
    execFileSync('mcopy', ['-i', img, join(ours, 'Shell.efi'), '::/EFI/BOOT/BOOTX64.EFI']);
    chmodSync(img, 0o644);
    const serial = join(dest.root, 'home', 'sb.serial.log');
    // Secure Boot with no keys enrolled: the unsigned Shell may run.
    const xml = domainXml({ name, arch: 'x86_64', serial, secureBoot: true, enrolledKeys: false, disk: img });

    await boot(name, xml);
    const distro = loaderOf(name);
    expect(distro).toMatch(/^\/usr\/share\/OVMF\//);
    stop(name);

    expect((await pull(dest, [server.url, '--only', 'x64-secureboot-smm-debug', '--prefer'])).code).toBe(0);
    expect(readdirSync(join(dest.config, 'qemu', 'firmware'))).toContain('20-edk2-matrix-x64-secureboot-smm-debug.json');
    rmSync(serial, { force: true });
    await boot(name, xml);
    expect(loaderOf(name)).toBe(join(ours, 'OVMF_CODE.fd'));
    const seconds = await waitForShell(serial);
    process.stderr.write(`libvirt secure-boot domain: ${distro} without --prefer; ours with it, UEFI Shell after ${seconds.toFixed(1)} s\n`);
    stop(name);

    // A domain that asks for enrolled keys gets our store of the key set listed first (microsoft).
    const enrolled = 'edk2-matrix-test-enrolled';
    await boot(enrolled, domainXml({ name: enrolled, arch: 'x86_64', serial: join(dest.root, 'home', 'enrolled.serial.log'), secureBoot: true, enrolledKeys: true }));
    expect(loaderOf(enrolled)).toBe(join(ours, 'OVMF_CODE.fd'));
    expect(/<nvram template='([^']+)'/.exec(session.virsh('dumpxml', enrolled))?.[1]).toBe(join(ours, 'OVMF_VARS.microsoft.fd'));
    stop(enrolled);
  }, 300_000);
});
