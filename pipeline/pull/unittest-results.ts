/**
 * Reads what Python's unittest prints with verbosity 2 (as Debian's debian/tests/shell.py
 * runs) into which tests ran, passed, failed and were skipped, and why:
 *
 *     test_aavmf (__main__.BootToShellTest.test_aavmf) ... ok
 *     test_aavmf_snakeoil_secure_boot_signed (__main__.BootToShellTest...) ... skipped 'arm64-only'
 *     test_ovmf_4m_q35 (__main__.BootToShellTest.test_ovmf_4m_q35) ... FAIL
 *     ----------------------------------------------------------------------
 *     Ran 30 tests in 812.512s
 *
 *     FAILED (failures=1, skipped=12)
 */

export type Outcome = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestResult {
  readonly name: string;
  /** unittest's id, e.g. __main__.BootToShellTest.test_aavmf. */
  readonly id: string;
  readonly outcome: Outcome;
  /** Why it was skipped. */
  readonly reason?: string;
}

export interface UnittestReport {
  readonly tests: readonly TestResult[];
  /** `Ran N tests`, when unittest got that far. */
  readonly ran: number | undefined;
  /** unittest's own verdict line: OK or FAILED; undefined when it did not finish. */
  readonly verdict: 'OK' | 'FAILED' | undefined;
}

const START = /^(test\w*) \(([\w.]+)\)(.*)$/;
const STATUS = /(?:^| \.\.\. )(ok|FAIL|ERROR|skipped '(.*)'|skipped "(.*)"|expected failure|unexpected success)$/;

function outcomeOf(status: RegExpExecArray): { outcome: Outcome; reason?: string } {
  const word = status[1]!;
  if (word === 'ok' || word === 'expected failure') return { outcome: 'passed' };
  if (word === 'FAIL' || word === 'unexpected success') return { outcome: 'failed' };
  if (word === 'ERROR') return { outcome: 'error' };
  return { outcome: 'skipped', reason: status[2] ?? status[3] ?? '' };
}

export function parseUnittestVerbose(text: string): UnittestReport {
  const tests: TestResult[] = [];
  let pending: { name: string; id: string } | undefined;
  let ran: number | undefined;
  let verdict: UnittestReport['verdict'];
  const settle = (line: string): boolean => {
    const status = STATUS.exec(line);
    if (!pending || !status || (!line.includes(' ... ') && line !== status[0])) return false;
    tests.push({ ...pending, ...outcomeOf(status) });
    pending = undefined;
    return true;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const start = START.exec(line);
    if (start) {
      pending = { name: start[1]!, id: start[2]! };
      settle(start[3]!.startsWith(' ... ') ? start[3]! : '');
      continue;
    }
    if (settle(line)) continue;
    const count = /^Ran (\d+) tests? in /.exec(line);
    if (count) ran = Number(count[1]);
    const end = /^(OK|FAILED)(?: \(.*\))?$/.exec(line);
    if (end && ran !== undefined) verdict = end[1] as 'OK' | 'FAILED';
  }
  return { tests, ran, verdict };
}

/** What a person reads: one line per test, then the count, and whether it all adds up. */
export function describeReport(r: UnittestReport): { lines: string[]; ok: boolean } {
  const count = (o: Outcome) => r.tests.filter((t) => t.outcome === o).length;
  const lines = r.tests.map((t) => `${t.outcome.padEnd(7)} ${t.name}${t.reason !== undefined ? ` (${t.reason})` : ''}`);
  lines.push(`ran ${r.tests.length - count('skipped')} of ${r.tests.length} test(s): ${count('passed')} passed, ${count('failed')} failed, ${count('error')} error(s), ${count('skipped')} skipped`);
  if (r.verdict === undefined) lines.push('unittest did not finish (no "Ran N tests" and verdict): see the log');
  else if (r.ran !== r.tests.length) lines.push(`unittest says it ran ${r.ran} test(s), ${r.tests.length} were read from its output: see the log`);
  const ok = r.verdict === 'OK' && r.ran === r.tests.length && count('failed') + count('error') === 0;
  return { lines, ok };
}
