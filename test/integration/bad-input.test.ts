/**
 * Bad input, against the real engine: every problem in matrix.yaml or on the command line is
 * one clear error (what, where, what would be valid) with exit status 2, and nothing changes:
 * the whole artifacts directory and the whole cache directory (a private one, seeded with the
 * verified edk2 source and what the define check learnt from it) are exactly as they were —
 * paths, sizes, modes, times and contents — and no container, volume or image is created.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, matrixCommand } from '../../pipeline/cli/matrix-command.ts';
import type { Log, SourceSpec } from '../../pipeline/domain.ts';
import { DockerEngine } from '../../pipeline/engine/docker-engine.ts';
import type { Labelled } from '../../pipeline/engine/engine.ts';
import { LABEL_OWNER } from '../../pipeline/engine/run-scope.ts';
import { MatrixError } from '../../pipeline/errors.ts';
import { pidAlive } from '../../pipeline/host/pid-alive.ts';
import { fetchVerified } from '../../pipeline/source/download.ts';
import { loadSourceFacts } from '../../pipeline/source/source-facts.ts';
import { defaultText, parse, REPO } from '../helpers/config.ts';
import { treeChanges, treeState } from '../helpers/tree-state.ts';

const exec = promisify(execFile);
const engine = new DockerEngine();
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-bad-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const out = join(work, 'artifacts');
/** Private to this file: runs of other files sharing the default cache neither disturb nor are disturbed. */
const cache = join(work, 'cache');
const log: Log = { info: () => {}, warn: (m) => process.stderr.write(`bad-input seeding: ${m}\n`) };
const signal = new AbortController().signal;

/** The default matrix, its relative paths made absolute so it can live in a temp dir. */
const base = defaultText.replace('dockerfile: dockerfiles/builder', `dockerfile: ${REPO}dockerfiles/builder`);
const x64Only = (text: string) => text.replace(/\nmatrix:\n[\s\S]*$/, '\nmatrix:\n  arch: [X64]\n  target: [DEBUG]\n');
const replace = (from: string | RegExp, to: string) => (text: string) => {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`test case does not apply: ${String(from)}`);
  return next;
};
const addFeature = (yaml: string) => replace('\nfeatures:\n', `\nfeatures:\n${yaml}\n`);
const withMatrix = (yaml: string) => (text: string) => text.replace(/\nmatrix:\n[\s\S]*$/, `\nmatrix:\n${yaml}`);

interface Case {
  readonly name: string;
  readonly edit?: (text: string) => string;
  readonly args?: readonly string[];
  /** The whole one-line message (with hint), as a pattern. */
  readonly error: RegExp;
}

const cases: Case[] = [
  // YAML and types
  { name: 'a YAML syntax error', edit: replace('toolchain: GCC5', 'toolchain: GCC5: GCC'), error: /^matrix\.yaml:\d+:\d+: YAML syntax error: Nested mappings .*\(fix the YAML syntax/ },
  { name: 'a key given twice', edit: replace('toolchain: GCC5', 'toolchain: GCC5\ntoolchain: GCC'), error: /:\d+:1: YAML syntax error: Map keys must be unique/ },
  {
    name: 'a document whose aliases expand without end (a resource-exhaustion attack)',
    edit: (t) => `a: &a [x, x, x, x, x, x, x, x, x]\n${'bcdefgh'.split('').map((l, i) => `${l}: &${l} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`).join('\n')}\n${t}`,
    error: /^matrix\.yaml:2:\d+: YAML aliases expand too far \(excessive alias count .*\) \(write the values out/,
  },
  { name: 'an empty file', edit: () => '# nothing\n', error: /matrix\.yaml:1:1: the file is empty \(start from the default matrix\.yaml\)/ },
  { name: 'a wrong schema version', edit: replace('version: 1', 'version: 2'), error: /:\d+:10: version: expected 1 \(the only schema version\)/ },
  { name: 'a list where a map belongs', edit: replace('defines: {}', 'defines: [SECURE_BOOT_ENABLE]'), error: /defines: expected a map of NAME: value/ },
  { name: 'a scalar where a list belongs', edit: withMatrix('  arch: X64\n  target: [DEBUG]\n'), error: /matrix\.arch: expected a list of architectures/ },
  { name: 'an unknown top-level key', edit: replace('toolchain: GCC5', 'toolchain: GCC5\ntoolchian: GCC5'), error: /:\d+:1: \(top level\): unknown key "toolchian" \(check the spelling/ },
  { name: 'an unknown nested key', edit: addFeature('  tpm:\n    defnes: { TPM2_ENABLE: true }'), error: /features\.tpm: unknown key "defnes"/ },
  { name: 'a missing required section', edit: replace(/\narchitectures:\n( {2}.*\n)+/, '\n'), error: /architectures: missing \(expected a map of architecture: \{dsc\}\) \(add architectures: to this section\)/ },
  // axes and variants
  { name: 'an unknown architecture', edit: withMatrix('  arch: [X64, PPC64]\n  target: [DEBUG]\n'), error: /matrix\.arch\[1\]: expected one of X64, IA32, AARCH64, ARM, RISCV64, LOONGARCH64$/m },
  { name: 'an unknown target', edit: withMatrix('  arch: [X64]\n  target: [DEBUG, FAST]\n'), error: /matrix\.target\[1\]: expected one of DEBUG, RELEASE, NOOPT/ },
  { name: 'an architecture the matrix uses but does not declare', edit: replace(/\n {2}ARM: {5}\{ dsc: .*\}/, ''), error: /matrix\.arch\[3\]: architecture ARM is not declared under architectures: \(add "ARM: \{ dsc: ArmVirtPkg\/ArmVirtQemu\.dsc \}"/ },
  { name: 'an unknown feature set', edit: withMatrix('  arch: [X64]\n  features: [secureboot+tmp2]\n  target: [DEBUG]\n'), error: /matrix\.features\[0\]: unknown feature set "tmp2" \(feature sets declared under features: secureboot, smm, tpm2/ },
  { name: 'a feature set named twice in one combination', edit: withMatrix('  arch: [X64]\n  features: [tpm2+tpm2]\n  target: [DEBUG]\n'), error: /feature set "tpm2" appears twice in "tpm2\+tpm2"/ },
  { name: 'duplicate variant ids', edit: withMatrix('  arch: [X64]\n  target: [DEBUG]\n  include: [{ arch: X64, target: DEBUG }]\n'), error: /matrix\.include\[0\]: variant x64-debug is declared twice \(remove the repeated include/ },
  { name: 'an empty expansion', edit: withMatrix('  arch: [X64]\n  target: [DEBUG]\n  exclude: [{ target: DEBUG }]\n'), error: /matrix: the matrix expands to no variant \(check matrix\.exclude/ },
  { name: 'a DSC that does not build the architecture', edit: replace('ARM:     { dsc: ArmVirtPkg/ArmVirtQemu.dsc }', 'ARM:     { dsc: OvmfPkg/OvmfPkgX64.dsc }'), error: /architectures\.ARM\.dsc: arm-debug: OvmfPkg\/OvmfPkgX64\.dsc does not build ARM firmware/ },
  // defines and PCDs
  { name: 'an invalid define name', edit: replace('defines: {}', 'defines: { "9LIVES": true }'), error: /defines: invalid name "9LIVES": a define name is letters/ },
  { name: 'an invalid define value', edit: replace('defines: {}', 'defines: { SECURE_BOOT_ENABLE: "TRUE; rm -rf /" }'), error: /defines\.SECURE_BOOT_ENABLE: a define value is letters, digits/ },
  { name: 'a define value of the wrong type', edit: replace('defines: {}', 'defines: { SECURE_BOOT_ENABLE: [TRUE] }'), error: /defines\.SECURE_BOOT_ENABLE: expected true, false, a number or a string/ },
  { name: 'an invalid PCD name', edit: replace('pcds: {}', 'pcds: { PcdDebugPrintErrorLevel: 0 }'), error: /pcds: invalid name "PcdDebugPrintErrorLevel": a PCD name is TokenSpaceGuid\.PcdName/ },
  { name: 'an invalid PCD value', edit: replace('pcds: {}', 'pcds: { gEfiMdePkgTokenSpaceGuid.PcdDebugPrintErrorLevel: "0x1\\n--pcd x=y" }'), error: /a PCD value is printable ASCII on one line/ },
  { name: 'contradictory feature sets', edit: (t) => withMatrix('  arch: [X64]\n  features: [fd2mb+small]\n  target: [DEBUG]\n')(addFeature('  small:\n    defines: { FD_SIZE_2MB: false }')(t)), error: /x64-fd2mb-small-debug: define FD_SIZE_2MB=FALSE contradicts FD_SIZE_2MB=TRUE set by features\.fd2mb/ },
  { name: 'two flash sizes at once', edit: withMatrix('  arch: [X64]\n  features: [fd2mb+fd4mb]\n  target: [DEBUG]\n'), error: /x64-fd2mb-fd4mb-debug: FD_SIZE_2MB and FD_SIZE_4MB are both TRUE/ },
  { name: 'SMM on ARM', edit: withMatrix('  arch: [ARM]\n  features: [smm]\n  target: [DEBUG]\n'), error: /features\.smm\.defines\.SMM_REQUIRE: arm-smm-debug: SMM_REQUIRE needs x86 System Management Mode, which ARM does not have \(exclude this combination/ },
  { name: 'SMM on X64 without the Ia32X64 platform', edit: (t) => withMatrix('  arch: [X64]\n  features: [smmonly]\n  target: [DEBUG]\n')(addFeature('  smmonly:\n    defines: { SMM_REQUIRE: true }')(t)), error: /x64-smmonly-debug: SMM_REQUIRE on X64 is built with OvmfPkg\/OvmfPkgIa32X64\.dsc/, },
  { name: 'a flash size on AARCH64', edit: withMatrix('  arch: [AARCH64]\n  features: [fd4mb]\n  target: [DEBUG]\n'), error: /aarch64-fd4mb-debug: FD_SIZE_4MB sizes OVMF images/ },
  { name: 'a define the DSC does not declare', edit: (t) => x64Only(replace('defines: {}', 'defines: { SECURE_BOOT_ENABLED: true }')(t)), error: /defines\.SECURE_BOOT_ENABLED: x64-debug: OvmfPkg\/OvmfPkgX64\.dsc does not declare the define SECURE_BOOT_ENABLED \(did you mean one of SECURE_BOOT_ENABLE/ },
  // source and builder
  { name: 'a bad sha256 pin', edit: replace('sha256: b63b6053d6d89c74d9291f9e96fde1584be99e6fb9c169ba9511505129d6b049', 'sha256: b63b'), error: /source\.debian\.files\[0\]\.sha256: expected a sha256/ },
  { name: 'two sources at once', edit: replace('  patches: []', '  git: { url: "https://example.org/edk2.git", commit: "0123456789abcdef0123456789abcdef01234567" }\n  patches: []'), error: /source: only one of debian, git may be given/ },
  { name: 'a git source pinned to a branch', edit: replace(/\n {2}debian:\n(?: {4}.*\n| {6}.*\n)+/, '\n  git: { url: "https://example.org/edk2.git", commit: master }\n'), error: /source\.git\.commit: expected a full 40-hex commit id \(a branch or tag is not pinned\)/ },
  { name: 'an archive format that cannot be checked entry by entry', edit: replace(/\n {2}debian:\n(?: {4}.*\n| {6}.*\n)+/, `\n  archive: { url: "https://example.org/edk2.zip", sha256: ${'0'.repeat(64)} }\n`), error: /source\.archive\.url: expected a \.tar\.xz, \.tar\.gz or \.tar archive/ },
  { name: 'a --timeout that is not a duration', args: ['--timeout', 'soon'], error: /^--timeout: "soon" is not a duration \(e\.g\. --timeout 90s, 45m or 1h30m; see npm run matrix -- --help\)$/ },
  { name: 'a missing patch', edit: replace('patches: []', 'patches: [patches/fix.patch]'), error: /source\.patches\[0\]: patch patches\/fix\.patch does not exist/ },
  { name: 'a missing Dockerfile', edit: replace(`dockerfile: ${REPO}dockerfiles/builder`, `dockerfile: ${REPO}dockerfiles`), error: /builder\.dockerfile: no Dockerfile in .*dockerfiles \(point builder\.dockerfile/ },
  { name: 'a relative install prefix', edit: replace('prefix: /usr/share/edk2-matrix/{id}', 'prefix: share/edk2'), error: /install\.prefix: expected an absolute directory/ },
  { name: 'a toolchain that is not a tag', edit: replace('toolchain: GCC5', 'toolchain: gcc'), error: /toolchain: expected an edk2 toolchain tag such as GCC5/ },
  { name: 'a feature set name edk2 ids cannot carry', edit: addFeature('  Secure-Boot:\n    defines: { SECURE_BOOT_ENABLE: true }'), error: /features: invalid name "Secure-Boot": a feature set name is lowercase letters and digits/ },
  // command line
  { name: 'an --only that matches nothing', args: ['--only', 'ppc64-*'], error: /^--only ppc64-\* matches no variant \(variants: x64-debug, / },
  { name: 'an empty --only', args: ['--only', ','], error: /^--only is empty/ },
  { name: 'an unknown option', args: ['--fast'], error: /^--fast: no such option \(see npm run matrix -- --help\)$/ },
  { name: 'a --jobs that is not a count', args: ['--jobs', '0'], error: /^--jobs: "0" is not a whole number of at least 1/ },
  { name: '--json without --list', args: ['--json'], error: /^--json only goes with --list \(use --list --json\)/ },
  { name: 'a missing matrix file', args: ['--config', '/nonexistent/matrix.yaml'], error: /^\/nonexistent\/matrix\.yaml: cannot read the matrix file \(ENOENT\) \(pass an existing file with --config\)/ },
];


/**
 * Puts the verified source downloads into `dir`: copied (and checked again) from the first of
 * `from` that has them, else fetched as a run would, from the mirror.
 */
async function seedDownloads(dir: string, spec: SourceSpec, from: readonly string[]): Promise<void> {
  if (spec.kind !== 'debian' && spec.kind !== 'archive') throw new Error(`bad-input seeds only debian and archive sources, not ${spec.kind}`);
  for (const f of spec.kind === 'debian' ? spec.files : [spec.file]) {
    const copy = from.map((c) => join(c, 'downloads', `${f.sha256}-${f.name}`)).find((p) => existsSync(p));
    if (copy) await fetchVerified(copy, f.sha256, f.name, dir, log, signal);
  }
}

/**
 * Containers, volumes and images of this process or of dead runs of this host: what a bad-input
 * run could create or (sweeping leftovers) remove. Those of other live runs — another test file
 * building in parallel — come and go on their own and are left out.
 */
async function engineState(): Promise<string> {
  const me = `${hostname()}:${process.pid}`;
  const watched = (r: Labelled) => {
    const owner = r.labels[LABEL_OWNER] ?? '';
    const [host, pid] = owner.split(':');
    return owner === me || (host === hostname() && !pidAlive(Number(pid)));
  };
  const r = await engine.findLabelled({ 'edk2-matrix': '1' });
  const ids = (list: readonly Labelled[]) => list.filter(watched).map((x) => x.id).sort();
  return JSON.stringify({ containers: ids(r.containers), volumes: ids(r.volumes), images: ids(r.images) });
}

/** Every change `act` makes to the artifacts and cache trees, one line per path; none is []. */
async function changesDuring(act: () => Promise<void>, roots: Record<string, string> = { artifacts: out, cache }): Promise<string[]> {
  const before = treeState(roots);
  await act();
  return treeChanges(before, treeState(roots));
}

/** What `matrixCommand` throws for `args` (with the private cache), or undefined. */
const errorOf = (args: readonly string[], cacheDir = cache) =>
  matrixCommand([...args, '--cache-dir', cacheDir], signal).then(() => undefined, (err: unknown) => err);

beforeAll(async () => {
  // An earlier, good publication that bad input must leave exactly as it is.
  mkdirSync(join(out, 'x64-debug'), { recursive: true });
  writeFileSync(join(out, 'x64-debug', 'OVMF_CODE.fd'), 'earlier build');
  writeFileSync(join(out, 'index.json'), '{"generator":"edk2-matrix","formatVersion":1,"variants":[]}\n');
  // A cache as a run leaves it: the verified source, and the define catalogue read from it
  // (the define check reads the catalogue; without it, that case would fill the cache).
  const spec = parse(base).source;
  await seedDownloads(cache, spec, [defaultCacheDir()]);
  await loadSourceFacts(spec, cache, log, signal);
}, 15 * 60_000);

describe('bad input is refused with one clear error, exit status 2, and nothing touched', () => {
  it.each(cases.map((c) => [c.name, c] as const))('rejects %s', async (_name, c) => {
    const config = join(work, 'matrix.yaml');
    writeFileSync(config, c.edit ? c.edit(base) : base);
    const engineBefore = await engineState();
    let error: unknown;
    const changes = await changesDuring(async () => {
      error = await errorOf(['--config', config, '--out', out, ...(c.args ?? [])]);
    });
    expect(error).toBeInstanceOf(MatrixError);
    const e = error as MatrixError;
    expect(e.oneLine.replaceAll(work, '').replace(/^\/matrix\.yaml/, 'matrix.yaml')).toMatch(c.error);
    expect(e.oneLine).not.toContain('\n');
    expect(e.exitCode).toBe(2);
    expect(changes, 'what bad input changed in the artifacts and cache directories').toEqual([]);
    expect(await engineState()).toBe(engineBefore);
  }, 120_000);

  it('exits 2 from the command line with the error on one line of stderr', async () => {
    const config = join(work, 'cli.yaml');
    writeFileSync(config, base.replace('version: 1', 'version: 3'));
    let r = { code: 0, stderr: '' };
    const changes = await changesDuring(async () => {
      r = await exec('npm', ['run', '-s', 'matrix', '--', '--config', config, '--out', out, '--cache-dir', cache], { cwd: REPO }).then(
        () => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => err);
    });
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('npm warn'));
    expect(lines).toEqual([expect.stringMatching(/^edk2-matrix: .*cli\.yaml:\d+:10: version: expected 1 \(the only schema version\)$/)]);
    expect(changes).toEqual([]);
  }, 60_000);
});

describe('the nothing-touched check can fail', () => {
  it('reports every file added, rewritten, re-moded, re-timed or removed, and every directory added', async () => {
    const config = join(work, 'self-check.yaml');
    writeFileSync(config, base.replace('version: 1', 'version: 2'));
    writeFileSync(join(out, 'x64-debug', 'build.log'), 'a log of the earlier build\n');
    const changes = await changesDuring(async () => {
      expect(await errorOf(['--config', config, '--out', out])).toBeInstanceOf(MatrixError);
      // What a careless run might do. The old check (digests of the files in artifacts/) saw
      // only the first two: not a new empty directory, a mode, a time, nor anything in the cache.
      writeFileSync(join(out, 'x64-debug', 'OVMF_CODE.fd'), 'later build!!');
      rmSync(join(out, 'x64-debug', 'build.log'));
      mkdirSync(join(out, 'arm-debug'));
      chmodSync(join(out, 'index.json'), 0o600);
      utimesSync(join(cache, 'source-facts'), new Date(0), new Date(0));
      writeFileSync(join(cache, 'stray.lock'), '');
    });
    expect(changes).toEqual([
      expect.stringMatching(/^changed artifacts: mtime \S+ -> \S+, ctime /),
      expect.stringMatching(/^added artifacts\/arm-debug \(dir 7[0-7]{2}\)$/),
      expect.stringMatching(/^changed artifacts\/index\.json: mode 6[0-7]{2} -> 600, ctime /),
      expect.stringMatching(/^changed artifacts\/x64-debug: mtime \S+ -> \S+, ctime /),
      expect.stringMatching(/^changed artifacts\/x64-debug\/OVMF_CODE\.fd: sha256 [0-9a-f]{12} -> [0-9a-f]{12}, mtime .*, ctime /),
      expect.stringMatching(/^removed artifacts\/x64-debug\/build\.log \(file 6[0-7]{2}, 27 bytes\)$/),
      expect.stringMatching(/^changed cache: mtime \S+ -> \S+, ctime /),
      expect.stringMatching(/^changed cache\/source-facts: mtime \S+ -> 1970-01-01T00:00:00\.000000000Z, ctime /),
      expect.stringMatching(/^added cache\/stray\.lock \(file 6[0-7]{2}, 0 bytes\)$/),
    ]);
  });

  it('sees the define check fill a cache that lacks its catalogue (what the seeding spares the cases)', async () => {
    const bare = join(work, 'bare-cache');
    await seedDownloads(bare, parse(base).source, [cache]);
    const config = join(work, 'define.yaml');
    writeFileSync(config, x64Only(base.replace('defines: {}', 'defines: { SECURE_BOOT_ENABLED: true }')));
    let error: unknown;
    const changes = await changesDuring(async () => {
      error = await errorOf(['--config', config, '--out', out], bare);
    }, { artifacts: out, cache: bare });
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as MatrixError).oneLine).toMatch(/does not declare the define SECURE_BOOT_ENABLED/);
    expect(changes).toEqual([
      expect.stringMatching(/^changed cache: mtime /),
      expect.stringMatching(/^added cache\/source-facts \(dir /),
      expect.stringMatching(/^added cache\/source-facts\/[0-9a-f]{32}\.json \(file 6[0-7]{2}, \d+ bytes\)$/),
    ]);
  }, 10 * 60_000);
});
