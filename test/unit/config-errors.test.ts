import { describe, expect, it } from 'vitest';
import { defaultText, errorOf, parse, withMatrix } from '../helpers/config.ts';

/** Line (1-based) of the first occurrence of `needle` in `text`. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

describe('configuration errors name file:line:col, the key and what is valid', () => {
  it('reports a YAML syntax error with its position', () => {
    const text = defaultText.replace('toolchain: GCC5', 'toolchain: GCC5: GCC');
    expect(errorOf(() => parse(text))).toMatch(new RegExp(`^matrix.yaml:${lineOf(text, 'toolchain: GCC5')}:\\d+: YAML syntax error: Nested mappings`));
  });

  it('refuses a document whose aliases expand without end, at the first alias, in one line', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((l, i) => `${l}: &${l} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)];
    const text = `${levels.join('\n')}\n${defaultText}`;
    expect(errorOf(() => parse(text))).toMatch(/^matrix.yaml:2:\d+: YAML aliases expand too far \(excessive alias count[^\n]*\)$/);
  });

  it('rejects a key given twice', () => {
    const text = defaultText.replace('toolchain: GCC5', 'toolchain: GCC5\ntoolchain: GCC');
    expect(errorOf(() => parse(text))).toMatch(new RegExp(`^matrix.yaml:${lineOf(text, 'toolchain: GCC5') + 1}:1: YAML syntax error: Map keys must be unique`));
  });

  it('rejects an unknown architecture with the valid ones', () => {
    const text = withMatrix('  arch: [X64, PPC64]\n  target: [DEBUG]\n');
    const line = lineOf(text, 'PPC64');
    expect(errorOf(() => parse(text))).toBe(`matrix.yaml:${line}:15: matrix.arch[1]: expected one of X64, IA32, AARCH64, ARM, RISCV64, LOONGARCH64`);
  });

  it('refuses a git URL or a Debian suite that a command would read as an option', () => {
    const git = defaultText.replace(/\n {2}debian:\n(?: {4}.*\n| {6}.*\n)+/, `\n  git: { url: "--upload-pack=touch /tmp/x", commit: "${'0'.repeat(40)}" }\n`);
    expect(errorOf(() => parse(git))).toMatch(/source\.git\.url: a git URL \(not starting with - and without blanks\)$/);
    const suite = defaultText.replace('  suite: trixie', '  suite: --variant=x');
    expect(errorOf(() => parse(suite))).toMatch(/builder\.suite: a Debian suite name such as trixie$/);
  });

  it('rejects an unknown key at the key', () => {
    const text = defaultText.replace('toolchain: GCC5', 'toolchain: GCC5\ntoolchian: GCC5');
    expect(errorOf(() => parse(text))).toMatch(new RegExp(`^matrix.yaml:${lineOf(text, 'toolchian')}:1: \\(top level\\): unknown key "toolchian"`));
  });

  it('rejects a wrong type', () => {
    const text = withMatrix('  arch: X64\n  target: [DEBUG]\n');
    expect(errorOf(() => parse(text))).toMatch(/matrix\.arch: expected a list of architectures/);
  });

  it('rejects a bad sha256 pin', () => {
    const text = defaultText.replace('b63b6053d6d89c74d9291f9e96fde1584be99e6fb9c169ba9511505129d6b049', 'b63b');
    expect(errorOf(() => parse(text))).toMatch(/source\.debian\.files\[0\]\.sha256: expected a sha256/);
  });

  it('rejects a missing section', () => {
    const text = defaultText.replace(/\nbuilder:\n( {2}.*\n|\s*#.*\n)*/, '\n');
    expect(errorOf(() => parse(text))).toMatch(/builder: missing/);
  });

  it('rejects an unknown feature set and lists the declared ones', () => {
    const text = withMatrix('  arch: [X64]\n  features: [secureboot+tpm]\n  target: [DEBUG]\n');
    expect(errorOf(() => parse(text))).toMatch(/matrix\.features\[0\]: unknown feature set "tpm" \(feature sets declared under features: secureboot, smm, tpm2, network, fd2mb, fd4mb; or use none\)/);
  });

  it('rejects a variant declared twice', () => {
    const text = withMatrix('  arch: [X64]\n  target: [DEBUG]\n  include: [{ arch: X64, target: DEBUG }]\n');
    expect(errorOf(() => parse(text))).toMatch(/matrix\.include\[0\]: variant x64-debug is declared twice/);
  });

  it('rejects a matrix that expands to nothing', () => {
    const text = withMatrix('  arch: [X64]\n  target: [DEBUG]\n  exclude: [{ arch: X64 }]\n');
    expect(errorOf(() => parse(text))).toMatch(/matrix: the matrix expands to no variant/);
  });

  it('rejects SMM on ARM with the reason', () => {
    const features = '  smm:\n    defines: { SMM_REQUIRE: true }';
    const text = withMatrix('  arch: [ARM]\n  features: [smm]\n  target: [DEBUG]\n', features);
    expect(errorOf(() => parse(text))).toMatch(/features\.smm\.defines\.SMM_REQUIRE: arm-smm-debug: SMM_REQUIRE needs x86 System Management Mode/);
  });

  it('rejects feature sets that contradict each other', () => {
    const features = '  small:\n    defines: { FD_SIZE_2MB: true, FD_SIZE_4MB: false }\n  big:\n    defines: { FD_SIZE_4MB: true }';
    const text = withMatrix('  arch: [X64]\n  features: [small+big]\n  target: [DEBUG]\n', features);
    expect(errorOf(() => parse(text))).toMatch(/features\.big\.defines\.FD_SIZE_4MB: x64-small-big-debug: define FD_SIZE_4MB=TRUE contradicts FD_SIZE_4MB=FALSE set by features\.small/);
  });

  it('rejects a DSC that cannot build the architecture', () => {
    const text = defaultText.replace('ARM:     { dsc: ArmVirtPkg/ArmVirtQemu.dsc }', 'ARM:     { dsc: OvmfPkg/OvmfPkgX64.dsc }');
    expect(errorOf(() => parse(text))).toMatch(/architectures\.ARM\.dsc: arm-debug: OvmfPkg\/OvmfPkgX64\.dsc does not build ARM firmware \(DSCs for ARM: ArmVirtPkg\/ArmVirtQemu\.dsc\)/);
  });

  it('rejects a missing patch file', () => {
    const text = defaultText.replace('patches: []', 'patches: [patches/nope.patch]');
    expect(errorOf(() => parse(text))).toMatch(/source\.patches\[0\]: patch patches\/nope\.patch does not exist/);
  });

  it('rejects a builder directory without a Dockerfile', () => {
    const text = defaultText.replace('dockerfile: dockerfiles/builder', 'dockerfile: dockerfiles');
    expect(errorOf(() => parse(text))).toMatch(/builder\.dockerfile: no Dockerfile in dockerfiles/);
  });

  it('rejects a define name edk2 cannot take', () => {
    const text = defaultText.replace('defines: {}', 'defines: { "BAD NAME": true }');
    expect(errorOf(() => parse(text))).toMatch(/defines: invalid name "BAD NAME"/);
  });
});
