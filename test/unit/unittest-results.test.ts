import { describe, expect, it } from 'vitest';
import { describeReport, parseUnittestVerbose } from '../../pipeline/pull/unittest-results.ts';

/** What debian/tests/shell.py prints with unittest.main(verbosity=2), as Python 3.13 writes it. */
const RUN = `test_aavmf (__main__.BootToShellTest.test_aavmf) ... ok
test_aavmf_snakeoil_secure_boot_signed (__main__.BootToShellTest.test_aavmf_snakeoil_secure_boot_signed) ... skipped 'arm64-only'
test_ovmf_4m_ms_secure_boot_signed (__main__.BootToShellTest.test_ovmf_4m_ms_secure_boot_signed) ... FAIL
test_ovmf_4m_q35 (__main__.BootToShellTest.test_ovmf_4m_q35)
Boots OVMF on q35 to the Shell. ... ok
test_riscv64 (__main__.BootToShellTest.test_riscv64) ... ERROR

======================================================================
FAIL: test_ovmf_4m_ms_secure_boot_signed (__main__.BootToShellTest.test_ovmf_4m_ms_secure_boot_signed)
----------------------------------------------------------------------
Traceback (most recent call last):
AssertionError: True != False

----------------------------------------------------------------------
Ran 5 tests in 412.118s

FAILED (failures=1, errors=1, skipped=1)
`;

describe('unittest verbose output', () => {
  it('reads which tests passed, failed, errored and were skipped, with the reason', () => {
    const r = parseUnittestVerbose(RUN);
    expect(r.tests).toEqual([
      { name: 'test_aavmf', id: '__main__.BootToShellTest.test_aavmf', outcome: 'passed' },
      { name: 'test_aavmf_snakeoil_secure_boot_signed', id: '__main__.BootToShellTest.test_aavmf_snakeoil_secure_boot_signed', outcome: 'skipped', reason: 'arm64-only' },
      { name: 'test_ovmf_4m_ms_secure_boot_signed', id: '__main__.BootToShellTest.test_ovmf_4m_ms_secure_boot_signed', outcome: 'failed' },
      { name: 'test_ovmf_4m_q35', id: '__main__.BootToShellTest.test_ovmf_4m_q35', outcome: 'passed' },
      { name: 'test_riscv64', id: '__main__.BootToShellTest.test_riscv64', outcome: 'error' },
    ]);
    expect([r.ran, r.verdict]).toEqual([5, 'FAILED']);
    const d = describeReport(r);
    expect(d.ok).toBe(false);
    expect(d.lines).toContain('skipped test_aavmf_snakeoil_secure_boot_signed (arm64-only)');
    expect(d.lines.at(-1)).toBe('ran 4 of 5 test(s): 2 passed, 1 failed, 1 error(s), 1 skipped');
  });

  it('passes a run unittest calls OK, with skips, in the older format without the method in the id', () => {
    const r = parseUnittestVerbose("test_a (__main__.T) ... ok\r\ntest_b (__main__.T) ... skipped 'Requires 64-bit QEMU'\r\n\r\nRan 2 tests in 1.0s\r\n\r\nOK (skipped=1)\r\n");
    expect(r.tests.map((t) => t.outcome)).toEqual(['passed', 'skipped']);
    expect(describeReport(r)).toEqual({ ok: true, lines: ['passed  test_a', "skipped test_b (Requires 64-bit QEMU)", 'ran 1 of 2 test(s): 1 passed, 0 failed, 0 error(s), 1 skipped'] });
  });

  it('does not pass a run that stopped before its verdict, or whose count does not add up', () => {
    const cut = parseUnittestVerbose('test_a (__main__.T.test_a) ... ok\ntest_b (__main__.T.test_b) ... ');
    expect(cut.tests).toHaveLength(1);
    expect(describeReport(cut)).toMatchObject({ ok: false, lines: expect.arrayContaining([expect.stringMatching(/did not finish/)]) });
    const short = parseUnittestVerbose('test_a (__main__.T.test_a) ... ok\n\nRan 3 tests in 1s\n\nOK\n');
    expect(describeReport(short)).toMatchObject({ ok: false, lines: expect.arrayContaining(['unittest says it ran 3 test(s), 1 were read from its output: see the log']) });
  });
});
