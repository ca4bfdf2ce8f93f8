import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BuildError } from '../../pipeline/errors.ts';
import { escapeData, escapeProperty, workflowCommand } from '../../pipeline/report/github-commands.ts';
import { PlainReporter } from '../../pipeline/report/plain-reporter.ts';
import { formatSeconds } from '../../pipeline/report/summary.ts';

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d));
  return { out, text: () => text };
}

describe('GitHub Actions workflow commands', () => {
  it('escape %, CR and LF in messages, and also : and , in properties, as @actions/core does', () => {
    expect(escapeData('50% done\r\nnext')).toBe('50%25 done%0D%0Anext');
    expect(escapeProperty('x64: a,b')).toBe('x64%3A a%2Cb');
    expect(workflowCommand('error', 'line 1\nline 2', { title: 'x64-debug' })).toBe('::error title=x64-debug::line 1%0Aline 2\n');
  });

  it('cannot be broken into a second command by a build error\'s text', () => {
    const { out, text } = capture();
    const reporter = new PlainReporter(out, { summaryFile: undefined });
    const error = new BuildError('x64-debug', 'exit-status', 'edk2 build exited with status 1\n::set-output name=x::injected', 1, undefined, []);
    reporter.finished({ id: 'x64-debug', status: 'failed', seconds: 1, error });
    const commands = text().split('\n').filter((l) => l.startsWith('::'));
    expect(commands).toEqual([expect.stringMatching(/^::error title=x64-debug::x64-debug: edk2 build exited with status 1%0A::set-output/)]);
  });
});

describe('durations', () => {
  it('round once, so a minute never shows 60 seconds', () => {
    expect(formatSeconds(119.6)).toBe('2m00s');
    expect(formatSeconds(119.4)).toBe('1m59s');
    expect(formatSeconds(179.5)).toBe('3m00s');
    expect(formatSeconds(3599.7)).toBe('60m00s');
  });

  it('show tenths under a minute, and the minute from 59.95 s on', () => {
    expect(formatSeconds(0)).toBe('0.0s');
    expect(formatSeconds(9.96)).toBe('10.0s');
    expect(formatSeconds(59.94)).toBe('59.9s');
    expect(formatSeconds(59.96)).toBe('1m00s');
    expect(formatSeconds(60)).toBe('1m00s');
    expect(formatSeconds(60.4)).toBe('1m00s');
    expect(formatSeconds(61.5)).toBe('1m02s');
  });
});
