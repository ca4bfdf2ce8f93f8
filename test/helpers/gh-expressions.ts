/**
 * The part of GitHub Actions' expression language our workflows use, evaluated as GitHub
 * does: contexts (`github.ref_type`, `matrix.id`, `needs.plan.outputs.tag`, ...), string
 * literals, `==` `!=` `&&` `||` `!` and parentheses (with GitHub's loose equality and
 * value-returning `&&`/`||`), `fromJSON(...)`, `hashFiles(...)`, `startsWith(...)`,
 * `format(...)` and the status functions `success()` `failure()` `cancelled()` `always()`
 * (given the job's status; a run here is never cancelled). Anything else throws, so
 * a workflow that grows a construct the rehearsal cannot evaluate fails the test instead of
 * being rehearsed wrongly.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import picomatch from 'picomatch';

export type Value = string | number | boolean | null | Value[] | { [k: string]: Value };
export type Contexts = Record<string, Value>;

/** What the status functions answer: did every job (or step) before this one succeed, did one fail. */
export interface Status {
  readonly success: boolean;
  readonly failure: boolean;
}

/** Does an `if:` call a status function? Then GitHub does not add its implicit `success() &&`. */
export function callsStatusFunction(condition: string): boolean {
  return /\b(success|failure|cancelled|always)\s*\(/.test(condition);
}

/** An `if:` value, with or without its `${{ }}`. */
export function condition(text: string): string {
  const whole = /^\s*\$\{\{([\s\S]*?)\}\}\s*$/.exec(text);
  return (whole ? whole[1]! : text).trim();
}

function format(template: string, args: Value[]): string {
  return template.replace(/\{\{|\}\}|\{(\d+)\}/g, (m, i: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const arg = args[Number(i)];
    if (arg === undefined) throw new Error(`format(): no argument {${i}}`);
    return typeof arg === 'object' && arg !== null ? JSON.stringify(arg) : String(arg ?? '');
  });
}

type Token = { t: 'str' | 'num' | 'id' | 'op'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i += 1; continue; }
    if (c === "'") {
      let s = '';
      i += 1;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in ${src}`);
        if (src[i] === "'" && src[i + 1] === "'") { s += "'"; i += 2; continue; }
        if (src[i] === "'") { i += 1; break; }
        s += src[i];
        i += 1;
      }
      out.push({ t: 'str', v: s });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['==', '!=', '&&', '||'].includes(two)) { out.push({ t: 'op', v: two }); i += 2; continue; }
    if ('!().,'.includes(c)) { out.push({ t: 'op', v: c }); i += 1; continue; }
    const num = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (num) { out.push({ t: 'num', v: num[0] }); i += num[0].length; continue; }
    const id = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i));
    if (id) { out.push({ t: 'id', v: id[0] }); i += id[0].length; continue; }
    throw new Error(`unsupported character ${c} in expression ${src}`);
  }
  return out;
}

const truthy = (v: Value | undefined): boolean => !(v === undefined || v === null || v === false || v === 0 || v === '');

function looseEqual(a: Value | undefined, b: Value | undefined): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return (a ?? null) === (b ?? null);
}

function hashFiles(root: string, patterns: string[]): string {
  const matchers = patterns.map((p) => picomatch(p, { dot: false }));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'node_modules' || name === '.git') continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (matchers.some((m) => m(relative(root, full)))) files.push(full);
    }
  };
  walk(root);
  if (!files.length) return '';
  const h = createHash('sha256');
  for (const f of files) h.update(createHash('sha256').update(readFileSync(f)).digest());
  return h.digest('hex');
}

/**
 * Evaluates one expression (the text inside `${{ }}`). `root` is the workspace for hashFiles;
 * `status` answers the status functions (an expression that calls one without it throws).
 */
export function evaluate(src: string, ctx: Contexts, root: string, status?: Status): Value {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (v?: string) => {
    const tok = tokens[pos];
    if (!tok || (v !== undefined && tok.v !== v)) throw new Error(`expected ${v ?? 'a token'} in ${src}`);
    pos += 1;
    return tok;
  };
  const or = (): Value => {
    let left = and();
    while (peek()?.v === '||') { take(); const right = and(); left = truthy(left) ? left : right; }
    return left;
  };
  const and = (): Value => {
    let left = eq();
    while (peek()?.v === '&&') { take(); const right = eq(); left = truthy(left) ? right : left; }
    return left;
  };
  const eq = (): Value => {
    let left = unary();
    while (peek()?.v === '==' || peek()?.v === '!=') {
      const op = take().v;
      const right = unary();
      left = op === '==' ? looseEqual(left, right) : !looseEqual(left, right);
    }
    return left;
  };
  const unary = (): Value => {
    if (peek()?.v === '!') { take(); return !truthy(unary()); }
    return primary();
  };
  const primary = (): Value => {
    const tok = take();
    if (tok.t === 'str') return tok.v;
    if (tok.t === 'num') return Number(tok.v);
    if (tok.v === '(') { const v = or(); take(')'); return v; }
    if (tok.t !== 'id') throw new Error(`unexpected ${tok.v} in ${src}`);
    if (tok.v === 'true' || tok.v === 'false') return tok.v === 'true';
    if (peek()?.v === '(') {
      take('(');
      const args: Value[] = [];
      while (peek()?.v !== ')') { args.push(or()); if (peek()?.v === ',') take(','); }
      take(')');
      if (tok.v === 'fromJSON') return JSON.parse(String(args[0])) as Value;
      if (tok.v === 'hashFiles') return hashFiles(root, args.map(String));
      if (tok.v === 'startsWith') return String(args[0] ?? '').toLowerCase().startsWith(String(args[1] ?? '').toLowerCase());
      if (tok.v === 'format') return format(String(args[0]), args.slice(1));
      if (tok.v === 'always') return true;
      if (tok.v === 'cancelled') return false;
      if (tok.v === 'success' || tok.v === 'failure') {
        if (!status) throw new Error(`${tok.v}() needs the job's status in ${src}`);
        return status[tok.v];
      }
      throw new Error(`function ${tok.v}() is not supported by the rehearsal`);
    }
    if (!(tok.v in ctx)) throw new Error(`unknown context ${tok.v} in ${src}`);
    let v: Value | undefined = ctx[tok.v];
    while (peek()?.v === '.') {
      take('.');
      const key = take().v;
      v = v !== null && typeof v === 'object' && !Array.isArray(v) ? v[key] : undefined;
    }
    return v ?? '';
  };
  const result = or();
  if (pos !== tokens.length) throw new Error(`trailing tokens in ${src}`);
  return result;
}

/** A string with every `${{ expr }}` replaced by its value (objects as JSON, as GitHub does). */
export function interpolate(text: string, ctx: Contexts, root: string): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, expr: string) => {
    const v = evaluate(expr.trim(), ctx, root);
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '');
  });
}

/** A value that is exactly one `${{ expr }}` keeps its type (an array for matrix.include). */
export function evaluateValue(text: string, ctx: Contexts, root: string): Value {
  const whole = /^\s*\$\{\{([\s\S]*?)\}\}\s*$/.exec(text);
  return whole ? evaluate(whole[1]!.trim(), ctx, root) : interpolate(text, ctx, root);
}
