/**
 * The builder's BaseTools fixes (dockerfiles/builder/bin/edk2-fix-basetools), run with the
 * host's python3 on small trees holding the code they mend, the way edk2 ships it (CRLF).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SCRIPT = join(REPO, 'dockerfiles', 'builder', 'bin', 'edk2-fix-basetools');
const FILES = ['ModuleAutoGenHelper.py', 'PlatformAutoGen.py'].map((f) => `BaseTools/Source/Python/AutoGen/${f}`);

/** `_OverridePcd` as edk2 has it around the lines the fix extends. */
const OVERRIDE = [
  '        if FromPcd is not None:',
  '            if FromPcd.MaxDatumSize:',
  '                ToPcd.MaxDatumSize = FromPcd.MaxDatumSize',
  '                ToPcd.MaxSizeUserSet = FromPcd.MaxDatumSize',
  '            if FromPcd.DefaultValue:',
  '                ToPcd.DefaultValue = FromPcd.DefaultValue',
  '',
];

function tree(nl: string, lines = OVERRIDE): string {
  const src = tempDir('fix-');
  for (const f of FILES) {
    mkdirSync(join(src, f, '..'), { recursive: true });
    writeFileSync(join(src, f), lines.join(nl));
  }
  return src;
}

const run = (src: string) => execFileSync('python3', [SCRIPT, src], { encoding: 'utf8' }).trim();

describe('edk2-fix-basetools', () => {
  it('re-infers a VOID* PCD size after an override in both AutoGen files, keeping CRLF', () => {
    const src = tree('\r\n');
    expect(run(src)).toBe('edk2-matrix: BaseTools fix void-pcd-size (tianocore/edk2#11128): applied');
    for (const f of FILES) {
      const text = readFileSync(join(src, f), 'utf8');
      expect(text).toContain([
        '                ToPcd.MaxSizeUserSet = FromPcd.MaxDatumSize',
        '            elif FromPcd.DefaultValue and ToPcd.DatumType == TAB_VOID and not ToPcd.MaxSizeUserSet:',
      ].join('\r\n'));
      expect(text).toContain("                ToPcd.MaxDatumSize = ''\r\n            if FromPcd.DefaultValue:");
      expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    }
  });

  it('mends a tree with LF line ends too', () => {
    const src = tree('\n');
    expect(run(src)).toMatch(/: applied$/);
    expect(readFileSync(join(src, FILES[0]!), 'utf8')).not.toContain('\r');
  });

  it('finds its own fix already there on a second run and changes nothing', () => {
    const src = tree('\r\n');
    run(src);
    const once = FILES.map((f) => readFileSync(join(src, f), 'utf8'));
    expect(run(src)).toMatch(/: already there$/);
    expect(FILES.map((f) => readFileSync(join(src, f), 'utf8'))).toEqual(once);
  });

  it('leaves code that moved on as it is and says the fix does not fit', () => {
    const moved = OVERRIDE.map((l) => l.replace('ToPcd.MaxSizeUserSet', 'ToPcd.SizeSetByUser'));
    const src = tree('\r\n', moved);
    expect(run(src)).toMatch(/: does not fit$/);
    for (const f of FILES) expect(readFileSync(join(src, f), 'utf8')).toBe(moved.join('\r\n'));
  });

  it('names each file when they differ', () => {
    const src = tree('\n');
    writeFileSync(join(src, FILES[1]!), 'class PlatformAutoGen: pass\n');
    expect(run(src)).toBe('edk2-matrix: BaseTools fix void-pcd-size (tianocore/edk2#11128): '
      + `${FILES[0]}: applied, ${FILES[1]}: does not fit`);
  });
});
