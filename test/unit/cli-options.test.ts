/** Options declared once (pipeline/cli/options.ts): how values are checked, defaulted and shown in --help. */
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseOptions, renderHelp, usageError, type CommandSpec } from '../../pipeline/cli/options.ts';
import { UsageError } from '../../pipeline/errors.ts';

const OPTIONS = {
  from: { type: 'strings', arg: 'DIR', help: 'a shard (again for more)' },
  'cache-dir': { type: 'string', arg: 'DIR', help: 'where downloads go' },
  wait: { type: 'duration', default: 30_000, help: 'idle time allowed' },
  jobs: { type: 'count', arg: 'N', default: 2, help: 'at once' },
  'a-rather-long-switch': { type: 'flag', help: 'first line\nsecond line' },
  key: { type: 'string', arg: 'FILE', section: 'Options for sign', help: 'the secret key' },
} as const;

const SPEC: CommandSpec<typeof OPTIONS> = {
  command: 'npm run thing', usage: ['<what> [options]'], about: 'Does a thing.', options: OPTIONS, positionals: true, footer: 'Exit status: 0.',
};

function usageLine(argv: readonly string[]): string {
  try {
    parseOptions(SPEC, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).oneLine;
  }
  throw new Error('expected a UsageError');
}

describe('durations', () => {
  it.each([['90s', 90_000], ['45m', 2_700_000], ['1h30m', 5_400_000], ['0.5m', 30_000], ['2h', 7_200_000], ['1m30s', 90_000]])(
    'reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '90', 'm', '1x', '30m1h', '-5s', '1.s'])('refuses %j', (text) => expect(parseDuration(text)).toBeUndefined());

  it.each([[3_600_000, '1h'], [5_400_000, '1h30m'], [90_000, '1m30s'], [300_000, '5m'], [119_600, '2m'], [0, '0s']])(
    'writes %d ms as %s, never 60 seconds in a minute', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('parseOptions', () => {
  it('gives defaults and camel-cased names when nothing is passed', () => {
    expect(parseOptions(SPEC, [])).toEqual({
      values: { from: [], cacheDir: undefined, wait: 30_000, jobs: 2, aRatherLongSwitch: false, key: undefined },
      positionals: [], help: false,
    });
  });

  it('converts values, keeps every repeat of a repeatable option and the positionals', () => {
    const p = parseOptions(SPEC, ['x', '--from', 'a', '--from=b', '--wait', '2m', '--jobs', '3', '--cache-dir', 'c', '--a-rather-long-switch', '--', '--y']);
    expect(p.values).toEqual({ from: ['a', 'b'], cacheDir: 'c', wait: 120_000, jobs: 3, aRatherLongSwitch: true, key: undefined });
    expect(p.positionals).toEqual(['x', '--y']);
  });

  it('takes -h and --help', () => {
    expect(parseOptions(SPEC, ['-h']).help).toBe(true);
    expect(parseOptions(SPEC, ['--help']).help).toBe(true);
  });

  it('says what is wrong, with which option, and where to look, on one line', () => {
    expect(usageLine(['--wait', '30'])).toBe('--wait: "30" has no unit (e.g. --wait 90s, 45m or 1h30m; see npm run thing -- --help)');
    expect(usageLine(['--wait', '0s'])).toBe('--wait: "0s" is not longer than nothing (e.g. --wait 90s, 45m or 1h30m; see npm run thing -- --help)');
    expect(usageLine(['--jobs', 'two'])).toBe('--jobs: "two" is not a whole number of at least 1 (e.g. --jobs 4; see npm run thing -- --help)');
    expect(usageLine(['--cache-dir'])).toBe('--cache-dir: needs a value (e.g. --cache-dir DIR; see npm run thing -- --help)');
    expect(usageLine(['--cache'])).toBe('--cache: no such option (see npm run thing -- --help)');
  });

  it('refuses words that are not options when the command takes none', () => {
    expect(() => parseOptions({ ...SPEC, positionals: false }, ['x'])).toThrow('"x": unexpected argument (options start with --)');
  });

  it('words a command\'s own usage errors like the rest', () => {
    expect(usageError(SPEC, 'sign takes one release directory').oneLine).toBe('sign takes one release directory (see npm run thing -- --help)');
  });
});

describe('renderHelp', () => {
  it('renders usage, text, every option with its default, -h, and the footer', () => {
    expect(renderHelp(SPEC)).toBe(`Usage: npm run thing -- <what> [options]

Does a thing.

Options:
  --from DIR         a shard (again for more)
  --cache-dir DIR    where downloads go
  --wait TIME        idle time allowed (default: 30s)
  --jobs N           at once
  --a-rather-long-switch
                     first line
                     second line
  -h, --help         this help

Options for sign:
  --key FILE         the secret key

Exit status: 0.
`);
  });
});
