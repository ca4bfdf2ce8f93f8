import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { LOONGARCH_VIRT_PFLASH_BYTES, RISCV_VIRT_PFLASH_BYTES, VIRT_PFLASH_BYTES } from '../../pipeline/platforms.ts';
import { launchScript } from '../../pipeline/plan/launch-script.ts';
import { makeManifest } from '../../pipeline/export/manifest.ts';
import { padImage } from '../../pipeline/export/pad.ts';
import { fillArgv, qemuLaunch } from '../../pipeline/plan/qemu-launch.ts';
import { parse, withMatrix } from '../helpers/config.ts';
import { makeRecipe } from '../../pipeline/plan/recipe.ts';

const smmFeature = '  smm:\n    defines: { SMM_REQUIRE: true, SECURE_BOOT_ENABLE: true }\n    dsc: { X64: OvmfPkg/OvmfPkgIa32X64.dsc }';
const variants = parse(withMatrix('  arch: [X64, IA32, AARCH64, ARM, RISCV64, LOONGARCH64]\n  target: [DEBUG]\n  include: [{ arch: X64, features: smm }]\n', smmFeature)).variants;
const byId = (id: string) => variants.find((v) => v.id === id)!;

describe('pflash padding', () => {
  it('pads AARCH64 code and vars to exactly 64 MiB with zeros', () => {
    const padded = padImage(Buffer.from([1, 2, 3]), VIRT_PFLASH_BYTES);
    expect(padded.length).toBe(67108864);
    expect([...padded.subarray(0, 4)]).toEqual([1, 2, 3, 0]);
    expect(padded.subarray(3).every((b) => b === 0)).toBe(true);
  });

  it('refuses an image larger than the flash', () => {
    expect(() => padImage(Buffer.alloc(10), 8)).toThrow(/larger than the 8-byte flash/);
  });

  it('publishes ARM images under the names distributions use', () => {
    expect(byId('aarch64-debug').platform.code).toEqual({ built: 'QEMU_EFI.fd', published: 'QEMU_EFI-pflash.raw', padTo: VIRT_PFLASH_BYTES });
    expect(byId('x64-debug').platform.vars.published).toBe('OVMF_VARS.fd');
  });

  it('pads RISC-V images to 32 MiB and LoongArch images to 16 MiB, published as pflash images', () => {
    expect(byId('riscv64-debug').platform.code).toEqual({ built: 'RISCV_VIRT_CODE.fd', published: 'RISCV_VIRT_CODE-pflash.raw', padTo: RISCV_VIRT_PFLASH_BYTES });
    expect(byId('riscv64-debug').platform.vars).toEqual({ built: 'RISCV_VIRT_VARS.fd', published: 'RISCV_VIRT_VARS-pflash.raw', padTo: RISCV_VIRT_PFLASH_BYTES });
    expect(byId('loongarch64-debug').platform.code).toEqual({ built: 'QEMU_EFI.fd', published: 'QEMU_EFI-pflash.raw', padTo: LOONGARCH_VIRT_PFLASH_BYTES });
    expect(byId('loongarch64-debug').platform.vars).toEqual({ built: 'QEMU_VARS.fd', published: 'QEMU_VARS-pflash.raw', padTo: LOONGARCH_VIRT_PFLASH_BYTES });
    expect([RISCV_VIRT_PFLASH_BYTES, LOONGARCH_VIRT_PFLASH_BYTES]).toEqual([33554432, 16777216]);
    expect(padImage(Buffer.from([7]), LOONGARCH_VIRT_PFLASH_BYTES).length).toBe(16777216);
  });
});

describe('QEMU command line', () => {
  it('boots X64 on q35 with code read-only and the vars copy writable', () => {
    expect(qemuLaunch(byId('x64-debug'), 'OVMF_CODE.fd', 'OVMF_VARS.fd').argv).toEqual([
      'qemu-system-x86_64', '-machine', 'q35,pflash0=code,pflash1=vars', '-m', '1024',
      '-blockdev', 'node-name=code,driver=file,filename=${CODE},read-only=on',
      '-blockdev', 'node-name=vars,driver=file,filename=${VARS}',
      '-nodefaults', '-display', 'none', '-serial', 'stdio',
    ]);
  });

  it('turns SMM on and makes the vars flash secure for SMM builds', () => {
    const argv = qemuLaunch(byId('x64-smm-debug'), 'c', 'v').argv;
    expect(argv).toContain('q35,pflash0=code,pflash1=vars,smm=on');
    expect(argv.join(' ')).toContain('-global driver=cfi.pflash01,property=secure,value=on');
  });

  it('gives ARM and AARCH64 the virt machine and a CPU', () => {
    expect(qemuLaunch(byId('arm-debug'), 'c', 'v').argv.slice(0, 5)).toEqual(['qemu-system-arm', '-machine', 'virt,pflash0=code,pflash1=vars', '-cpu', 'cortex-a15']);
    expect(qemuLaunch(byId('aarch64-debug'), 'c', 'v').argv.slice(3, 5)).toEqual(['-cpu', 'max']);
  });

  it('boots RISCV64 on virt with QEMU\'s default CPU, LOONGARCH64 on virt with la464', () => {
    expect(qemuLaunch(byId('riscv64-debug'), 'c', 'v').argv.slice(0, 5)).toEqual(['qemu-system-riscv64', '-machine', 'virt,pflash0=code,pflash1=vars', '-m', '1024']);
    expect(qemuLaunch(byId('loongarch64-debug'), 'c', 'v').argv.slice(0, 5)).toEqual(['qemu-system-loongarch64', '-machine', 'virt,pflash0=code,pflash1=vars', '-cpu', 'la464']);
    expect(qemuLaunch(byId('riscv64-debug'), 'c', 'v').removableBootFile).toBe('BOOTRISCV64.EFI');
    expect(qemuLaunch(byId('loongarch64-debug'), 'c', 'v').removableBootFile).toBe('BOOTLOONGARCH64.EFI');
  });

  it('fills the placeholders and doubles commas in paths', () => {
    const argv = fillArgv(['-blockdev', 'file,filename=${CODE}', 'x=${VARS}'], '/a,b/code.fd', '/v.fd');
    expect(argv).toEqual(['-blockdev', 'file,filename=/a,,b/code.fd', 'x=/v.fd']);
  });
});

describe('launch.sh', () => {
  const manifest = makeManifest({
    plan: { variant: byId('x64-debug'), recipe: makeRecipe(byId('x64-debug'), { sourceDateEpoch: 1, installPrefix: '/usr/share/x' }), key: 'k', threads: 2 },
    source: { key: 'k', volume: 'v', description: 'd', origin: { kind: 'archive', location: '/d.tar' }, digests: [], components: [] },
    image: { id: 'sha256:1', tag: 't', digest: 'd', lock: 'l', snapshot: undefined, packages: [] },
    files: [],
    enrolled: [],
  });

  it('runs the manifest argv with the paths filled in and extra arguments appended', () => {
    const dir = tempDir('launch-');
    const script = join(dir, 'launch.sh');
    writeFileSync(script, launchScript(manifest).replace("exec 'qemu-system-x86_64'", "exec printf '%s\\n' 'qemu-system-x86_64'"), { mode: 0o755 });
    writeFileSync(join(dir, 'OVMF_VARS.fd'), 'template');
    const out = execFileSync('sh', [script, '-S', "it's"], { cwd: dir, env: { ...process.env, EDK2_MATRIX_VARS: join(dir, 'my,vars.fd') }, stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n');
    expect(out).toContain(`node-name=code,driver=file,filename=${dir}/OVMF_CODE.fd,read-only=on`);
    expect(out).toContain(`node-name=vars,driver=file,filename=${dir}/my,,vars.fd`);
    expect(out.slice(-3, -1)).toEqual(['-S', "it's"]);
    expect(execFileSync('cat', [join(dir, 'my,vars.fd')]).toString()).toBe('template');
  });
});
