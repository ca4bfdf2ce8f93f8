/**
 * Command-line options, declared once per command (name, kind of value, help text) and parsed
 * with node:util's parseArgs: every command checks its values the same way, refuses bad usage
 * with the same kind of one-line UsageError (exit 2), and renders `--help` from the same
 * declarations. Durations (`--timeout`) are written the same way everywhere: 90s, 45m, 1h30m.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';

interface Common {
  /** One-letter alias (`h` for `-h`). */
  readonly short?: string;
  /** Help text; further lines continue it. */
  readonly help: string;
  /** Listed under this heading instead of "Options" (e.g. "Options for assemble"). */
  readonly section?: string;
}

/** A switch: true when given. */
export interface FlagOption extends Common {
  readonly type: 'flag';
}

/** Any text; `arg` names it in the help (FILE, DIR, IDS). */
export interface StringOption extends Common {
  readonly type: 'string';
  readonly arg: string;
  readonly default?: string;
  /** The only values allowed. */
  readonly choices?: readonly string[];
  /** What a valid value looks like, with the words for it and an example. */
  readonly pattern?: { readonly re: RegExp; readonly what: string; readonly example: string };
}

/** Text that may be given more than once (and keeps every value). */
export interface StringsOption extends Common {
  readonly type: 'strings';
  readonly arg: string;
}

/** A whole number of at least `min` (default 1). */
export interface CountOption extends Common {
  readonly type: 'count';
  readonly arg: string;
  readonly default?: number;
  readonly min?: number;
}

/** A positive number in `unit` (e.g. GiB). */
export interface NumberOption extends Common {
  readonly type: 'number';
  readonly arg: string;
  readonly unit: string;
  readonly example: string;
  readonly default?: number;
}

/** A duration with its unit (90s, 45m, 1h30m); the value is in milliseconds. */
export interface DurationOption extends Common {
  readonly type: 'duration';
  /** Milliseconds. */
  readonly default?: number;
}

export type OptionSpec = FlagOption | StringOption | StringsOption | CountOption | NumberOption | DurationOption;
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs> {
  /** How it is run, e.g. `npm run verify`: the usage line and every error's hint name it. */
  readonly command: string;
  /** What follows the command in the usage line(s), e.g. `[options]`. */
  readonly usage: readonly string[];
  /** A paragraph on what the command does. */
  readonly about: string;
  readonly options: O;
  /** Whether words that are not options are taken (as `positionals`). */
  readonly positionals?: boolean;
  /** Text after the options: exit status, environment. */
  readonly footer?: string;
}

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

type ValueOf<S extends OptionSpec> =
  S extends FlagOption ? boolean
    : S extends StringsOption ? string[]
      : S extends { readonly default: infer D } ? (D extends string ? string : number)
        : S extends StringOption ? string | undefined
          : number | undefined;

/** The parsed values, by camel-cased option name (`--cache-dir` → `cacheDir`). */
export type OptionValues<O extends OptionSpecs> = { -readonly [K in keyof O & string as Camel<K>]: ValueOf<O[K]> };

export interface Parsed<O extends OptionSpecs> {
  readonly values: OptionValues<O>;
  readonly positionals: readonly string[];
  /** `-h`/`--help` was given: print `renderHelp` and stop. */
  readonly help: boolean;
}

const HELP_OPTION: FlagOption = { type: 'flag', short: 'h', help: 'this help' };
const DURATION_EXAMPLE = '90s, 45m or 1h30m';
const UNITS_MS = { h: 3_600_000, m: 60_000, s: 1000 } as const;

function camel(name: string): string {
  return name.replace(/-(.)/g, (_m, c: string) => c.toUpperCase());
}

function hint(spec: CommandSpec<OptionSpecs>): string {
  return `see ${spec.command} -- --help`;
}

/** Bad usage the declarations cannot see (a missing subcommand argument): worded like the rest. */
export function usageError(spec: CommandSpec<OptionSpecs>, message: string): UsageError {
  return new UsageError(message, hint(spec));
}

/**
 * Milliseconds in a duration written with its units: `90s`, `45m`, `1h30m`, `0.5m`. A bare
 * number is refused: a unit kept in the head is how a build gets 90 seconds instead of 90 minutes.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text);
  if (!m || text === '') return undefined;
  const [, h = '0', min = '0', s = '0'] = m;
  return Math.round(Number(h) * UNITS_MS.h + Number(min) * UNITS_MS.m + Number(s) * UNITS_MS.s);
}

/** A duration as `--timeout` takes it: `1h30m`, `45m`, `90s` (rounded to the second). */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const text = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return text || '0s';
}

function example(name: string, o: OptionSpec): string {
  switch (o.type) {
    case 'duration': return `e.g. --${name} ${DURATION_EXAMPLE}`;
    case 'count': return `e.g. --${name} 4`;
    case 'number': return `e.g. --${name} ${o.example}`;
    case 'string':
      return `e.g. --${name} ${o.choices?.[0] ?? o.pattern?.example ?? o.arg}`;
    case 'strings': return `e.g. --${name} ${o.arg}`;
    case 'flag': return `--${name} alone`;
  }
}

/** Checks and converts one option's text. */
function convert(spec: CommandSpec<OptionSpecs>, name: string, o: OptionSpec, text: string): string | number {
  const bad = (what: string) => new UsageError(`--${name}: "${text}" ${what}`, `${example(name, o)}; ${hint(spec)}`);
  switch (o.type) {
    case 'duration': {
      if (/^\d+(\.\d+)?$/.test(text)) throw bad('has no unit');
      const ms = parseDuration(text);
      if (ms === undefined) throw bad('is not a duration');
      if (ms <= 0) throw bad('is not longer than nothing');
      return ms;
    }
    case 'count': {
      const n = Number(text);
      const min = o.min ?? 1;
      if (text.trim() === '' || !Number.isInteger(n) || n < min) throw bad(`is not a whole number of at least ${min}`);
      return n;
    }
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw bad(`is not a positive number of ${o.unit}`);
      return n;
    }
    case 'string':
      if (o.choices && !o.choices.includes(text)) throw bad(`is not one of ${o.choices.join(', ')}`);
      if (o.pattern && !o.pattern.re.test(text)) throw bad(`is not ${o.pattern.what}`);
      return text;
    default:
      return text;
  }
}

/** Parses `argv` against the command's declarations; bad usage is a UsageError (exit 2). */
export function parseOptions<O extends OptionSpecs>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> {
  const all: Record<string, OptionSpec> = { ...spec.options, help: HELP_OPTION };
  const usage = (message: string, what?: string) => (what ? new UsageError(message, what) : usageError(spec, message));
  // Parsed loosely, then checked here token by token: one wording for every mistake.
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(Object.entries(all).map(([name, o]) =>
      [name, { type: o.type === 'flag' ? 'boolean' as const : 'string' as const, ...(o.short ? { short: o.short } : {}) }])),
  });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (!spec.positionals) throw usage(`"${t.value}": unexpected argument (options start with --)`);
      positionals.push(t.value);
      continue;
    }
    const o = all[t.name];
    if (!o) throw usage(`${t.rawName}: no such option`);
    const name = t.name;
    if (o.type === 'flag') {
      if (t.value !== undefined) throw usage(`--${name}: takes no value (given "${t.value}")`);
      values[name] = true;
      continue;
    }
    // `--out --list`: the next option is not a value (a negative number is, and is refused as one).
    if (t.value === undefined || (!t.inlineValue && /^--?[A-Za-z]/.test(t.value))) {
      throw usage(`--${name}: needs a value`, `${example(name, o)}; ${hint(spec)}`);
    }
    const value = convert(spec, name, o, t.value);
    if (o.type === 'strings') values[name] = [...(values[name] as string[] | undefined ?? []), value];
    else values[name] = value;
  }
  const out: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const given = values[name];
    out[camel(name)] = given !== undefined ? given
      : o.type === 'flag' ? false
        : o.type === 'strings' ? []
          : 'default' in o ? o.default : undefined;
  }
  return { values: out as OptionValues<O>, positionals, help: values.help === true };
}

const NAME_WIDTH = 19;

function optionLine(name: string, o: OptionSpec): string {
  const arg = o.type === 'flag' ? '' : o.type === 'duration' ? ' TIME' : ` ${o.arg}`;
  const label = `${o.short ? `-${o.short}, ` : ''}--${name}${arg}`;
  const dflt = o.type === 'duration' && o.default !== undefined ? ` (default: ${formatDuration(o.default)})` : '';
  const [first = '', ...more] = `${o.help}${dflt}`.split('\n');
  const pad = ' '.repeat(2 + NAME_WIDTH);
  const head = label.length < NAME_WIDTH ? `  ${label.padEnd(NAME_WIDTH)}${first}` : `  ${label}\n${pad}${first}`;
  return [head, ...more.map((l) => `${pad}${l}`)].join('\n');
}

/** The command's `--help`, from its declarations. */
export function renderHelp<O extends OptionSpecs>(spec: CommandSpec<O>): string {
  const usage = spec.usage.map((u, i) => `${i ? '       ' : 'Usage: '}${spec.command} -- ${u}`).join('\n');
  const sections = new Map<string, string[]>([['Options', []]]);
  for (const [name, o] of Object.entries({ ...spec.options, help: HELP_OPTION })) {
    const heading = o.section ?? 'Options';
    sections.set(heading, [...sections.get(heading) ?? [], optionLine(name, o)]);
  }
  const options = [...sections].map(([heading, lines]) => `${heading}:\n${lines.join('\n')}\n`).join('\n');
  return `${usage}\n\n${spec.about.trimEnd()}\n\n${options}${spec.footer ? `\n${spec.footer.trimEnd()}\n` : ''}`;
}
