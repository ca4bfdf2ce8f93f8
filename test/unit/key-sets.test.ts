import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_KEY_SETS, MICROSOFT_OWNER, pinMismatch, REPO_CERTS } from '../../pipeline/config/key-sets.ts';
import { sha256Hex } from '../../pipeline/checksums.ts';
import { makeRecipe } from '../../pipeline/plan/recipe.ts';
import { descriptorFileName, enrolledDescriptor, enrolledDescriptorFileName } from '../../pipeline/plan/firmware-descriptor.ts';
import { enrolledLaunchScript, enrolledVarsName, fileMode } from '../../pipeline/layout.ts';
import { errorOf, parse, withMatrix, DEFAULT_MATRIX, REPO } from '../helpers/config.ts';
import { loadConfig, parseConfig } from '../../pipeline/config/load.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { DEBIAN_FILES, DEBIAN_VARIANTS, debianTable } from '../../pipeline/pull/debian-layout.ts';

/** Lines of test/fixtures/debian-file-list.txt: `package path` or `package path -> target`. */
function debianFileList(text: string): { package: string; path: string; linkTo: string | undefined }[] {
  return text.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => {
    const [pkg, path, arrow, target] = l.trim().split(/\s+/);
    return { package: pkg!, path: path!, linkTo: arrow === '->' ? target : undefined };
  });
}

const sbFeature = (enroll: string) => `  sb:\n    defines: { SECURE_BOOT_ENABLE: true, SMM_REQUIRE: true }\n    dsc: { X64: OvmfPkg/OvmfPkgIa32X64.dsc }\n    enroll: ${enroll}`;

describe('Secure Boot key sets', () => {
  it('gives a secure-boot variant the key sets its feature sets ask for, in order', () => {
    const v = parse(withMatrix('  arch: [X64]\n  features: [sb]\n  target: [DEBUG]\n', sbFeature('[microsoft, snakeoil]'))).variants[0]!;
    expect(v.keySets.map((k) => k.name)).toEqual(['microsoft', 'snakeoil']);
  });

  it('rejects an unknown key set, and enrollment without Secure Boot, at the name', () => {
    expect(errorOf(() => parse(withMatrix('  arch: [X64]\n  features: [sb]\n  target: [DEBUG]\n', sbFeature('[microsfot]')))))
      .toMatch(/features\.sb\.enroll\[0\]: unknown key set "microsfot" \(key sets: microsoft, snakeoil/);
    const noSb = '  plain:\n    defines: { NETWORK_IP6_ENABLE: true }\n    enroll: [snakeoil]';
    expect(errorOf(() => parse(withMatrix('  arch: [X64]\n  features: [plain]\n  target: [DEBUG]\n', noSb))))
      .toMatch(/x64-plain-debug: enrolling keys needs SECURE_BOOT_ENABLE/);
  });

  it('holds Microsoft\'s 2011 and 2023 KEK and db certificates under Microsoft\'s owner, and our PK', () => {
    const ms = BUILTIN_KEY_SETS.microsoft!;
    expect(ms.kek.slice(1).map((c) => [c.source.path.split('/').pop(), c.owner])).toEqual([
      ['MicrosoftCorporationKEKCA2011.pem', MICROSOFT_OWNER], ['MicrosoftCorporationKEK2KCA2023.pem', MICROSOFT_OWNER]]);
    expect(ms.db.map((c) => c.source.path.split('/').pop())).toEqual([
      'MicrosoftWindowsProductionPCA2011.pem', 'MicrosoftCorporationUEFICA2011.pem', 'WindowsUEFICA2023.pem', 'MicrosoftUEFICA2023.pem']);
  });

  it('pins the repository\'s certificates: every built-in set matches, and a changed or missing file is named', () => {
    for (const set of Object.values(BUILTIN_KEY_SETS)) expect(pinMismatch(set), set.name).toBeUndefined();
    const dir = tempDir('pins-');
    const pem = join(dir, 'snakeoil.pem');
    writeFileSync(pem, readFileSync(REPO_CERTS.snakeoil.path));
    const set = { ...BUILTIN_KEY_SETS.snakeoil!, db: [{ ...BUILTIN_KEY_SETS.snakeoil!.db[0]!, source: { kind: 'file' as const, path: pem, sha256: REPO_CERTS.snakeoil.sha256 } }] };
    expect(pinMismatch(set)).toBeUndefined();
    writeFileSync(pem, readFileSync(REPO_CERTS.pk.path));
    expect(pinMismatch(set)).toBe(`${pem} has sha256 ${sha256Hex(readFileSync(REPO_CERTS.pk.path))}, not the pinned ${REPO_CERTS.snakeoil.sha256}`);
    rmSync(pem);
    expect(pinMismatch(set)).toBe(`${pem} is missing`);
  });

  it('accepts your own key set of pinned PEM files and refuses one whose digest differs', () => {
    const dir = tempDir('keys-');
    writeFileSync(join(dir, 'pk.pem'), readFileSync(REPO_CERTS.snakeoil.path));
    const sha = REPO_CERTS.snakeoil.sha256;
    const text = (pin: string) => readFileSync(DEFAULT_MATRIX, 'utf8').replace('\nmatrix:\n', `\nkeysets:\n  lab:\n    pk: { file: ${join(dir, 'pk.pem')}, sha256: ${pin} }\n    kek: [{ file: ${join(dir, 'pk.pem')}, sha256: ${pin} }]\n    db: [{ file: ${join(dir, 'pk.pem')}, sha256: ${pin} }]\n\nmatrix:\n`)
      .replace('enroll: [microsoft, snakeoil]', 'enroll: [microsoft, snakeoil, lab]');
    const config = parseConfig(text(sha), DEFAULT_MATRIX);
    expect(config.variants.find((v) => v.id === 'aarch64-secureboot-tpm2-network-release')!.keySets.map((k) => k.name)).toContain('lab');
    expect(errorOf(() => parseConfig(text('e'.repeat(64)), DEFAULT_MATRIX, 'matrix.yaml'))).toMatch(/keysets\.lab\.pk\.sha256: .*pk\.pem has sha256 1f11.*, not the pinned one/);
  });

  it('enrolls with virt-fw-vars into a copy of the built store, names it and describes it as enrolled', () => {
    const v = parse(withMatrix('  arch: [X64]\n  features: [sb]\n  target: [DEBUG]\n', sbFeature('[snakeoil]'))).variants[0]!;
    const argv = makeRecipe(v, { sourceDateEpoch: 1, installPrefix: '/usr/share/x' }).enrolments[0]!.argv;
    expect(argv.slice(0, 5)).toEqual(['virt-fw-vars', '--input', '/work/Build/Ovmf3264/DEBUG_GCC5/FV/OVMF_VARS.fd', '--output', '/work/Build/Ovmf3264/DEBUG_GCC5/FV/OVMF_VARS.snakeoil.fd']);
    expect(argv).toContain('--secure-boot');
    expect(argv.filter((a) => a.startsWith('--'))).toEqual(['--input', '--output', '--set-pk', '--add-kek', '--add-db', '--secure-boot']);
    expect(enrolledVarsName('QEMU_VARS-pflash.raw', 'microsoft')).toBe('QEMU_VARS-pflash.microsoft.raw');
    expect(enrolledDescriptorFileName(v, 'snakeoil')).toBe('40-edk2-x64-sb-debug-snakeoil.json');
    const d = enrolledDescriptor(v, '/usr/share/edk2-matrix/{id}', 'snakeoil');
    expect(d.features).toEqual(expect.arrayContaining(['enrolled-keys', 'secure-boot', 'requires-smm']));
    expect(d.mapping).toMatchObject({ 'nvram-template': { filename: '/usr/share/edk2-matrix/x64-sb-debug/OVMF_VARS.snakeoil.fd' } });
    expect(fileMode('launch-snakeoil.sh')).toBe(0o755);
    expect(fileMode(enrolledLaunchScript('lab2'))).toBe(0o755);
    expect(fileMode(enrolledVarsName('OVMF_VARS.fd', 'snakeoil'))).toBe(0o644);
  });

  it('numbers enrolled descriptors in matrix order, so that the key set listed first is picked first', () => {
    const v = parse(withMatrix('  arch: [X64]\n  features: [sb]\n  target: [DEBUG]\n', sbFeature('[snakeoil, microsoft]'))).variants[0]!;
    expect(['microsoft', 'snakeoil'].map((k) => enrolledDescriptorFileName(v, k))).toEqual(['41-edk2-x64-sb-debug-microsoft.json', '40-edk2-x64-sb-debug-snakeoil.json']);
  });

  it('builds with distro.yaml the set Debian ships, and maps every Debian file to one of ours in docs/downstream.md', () => {
    const config = loadConfig(join(REPO, 'distro.yaml'));
    const doc = readFileSync(join(REPO, 'docs', 'downstream.md'), 'utf8');
    expect(doc).toContain(debianTable());
    const byId = new Map(config.variants.map((v) => [v.id, v]));
    // Every variant of distro.yaml serves Debian's layout, and every variant the layout names is built.
    expect([...byId.keys()].sort()).toEqual([...DEBIAN_VARIANTS].sort());
    for (const f of DEBIAN_FILES) {
      const s = f.source;
      if (s.kind === 'file') {
        const v = byId.get(s.variant)!;
        const names = [v.platform.code.published, v.platform.vars.published, ...v.keySets.map((k) => enrolledVarsName(v.platform.vars.published, k.name))];
        expect(names, f.path).toContain(s.file);
      }
      if (s.kind === 'descriptor') {
        const v = byId.get(s.variant)!;
        expect(s.keySet === undefined || v.keySets.some((k) => k.name === s.keySet), f.path).toBe(true);
        // The descriptor's priority is Debian's: 40 enrolled, 50 secure boot, 60 the rest.
        const ours = s.keySet ? enrolledDescriptorFileName(v, s.keySet) : descriptorFileName(v);
        expect(f.path.split('/').pop()!.slice(0, 2), f.path).toBe(ours.slice(0, 2));
        for (const p of [s.code, s.vars]) expect(DEBIAN_FILES.some((t) => t.path === p && t.source.kind !== 'none'), p).toBe(true);
      }
    }
    // Debian's secure-boot images have no built-in Shell; the shim-compatible ones uninstall the memory attribute protocol.
    for (const v of config.variants.filter((x) => x.defines.SECURE_BOOT_ENABLE === 'TRUE')) {
      expect(v.defines.BUILD_SHELL, v.id).toBe('FALSE');
      expect(v.pcds['gUefiOvmfPkgTokenSpaceGuid.PcdUninstallMemAttrProtocol'], v.id).toBe(v.features.includes('strictnx') ? 'FALSE' : 'TRUE');
    }
  });

  it('has a row for every file of Debian\'s packages, and none Debian does not ship', () => {
    const listed = debianFileList(readFileSync(join(REPO, 'test', 'fixtures', 'debian-file-list.txt'), 'utf8'));
    expect(listed.length).toBeGreaterThan(50);
    const rows = new Map(DEBIAN_FILES.map((f) => [f.path, f]));
    for (const d of listed) {
      const row = rows.get(d.path);
      expect(row, `${d.package} ${d.path} has no row in pipeline/pull/debian-layout.ts`).toBeDefined();
      expect(row!.package, d.path).toBe(d.package);
      if (d.linkTo && row!.source.kind === 'link') expect(`${d.path.slice(0, d.path.lastIndexOf('/'))}/${row!.source.target}`).toBe(d.linkTo);
    }
    expect(DEBIAN_FILES.map((f) => f.path).filter((p) => !listed.some((d) => d.path === p))).toEqual([]);
    expect(new Set(DEBIAN_FILES.map((f) => f.path)).size).toBe(DEBIAN_FILES.length);
  });

  it('notices a Debian file without a row', () => {
    const listed = debianFileList('ovmf /usr/share/OVMF/OVMF_CODE_4M.fd\novmf /usr/share/OVMF/OVMF_CODE_8M.fd\n');
    expect(listed.filter((d) => !DEBIAN_FILES.some((f) => f.path === d.path)).map((d) => d.path)).toEqual(['/usr/share/OVMF/OVMF_CODE_8M.fd']);
  });
});
