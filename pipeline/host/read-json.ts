/**
 * Reading back the JSON files edk2-matrix wrote (manifests, boot records, cache records): one
 * reader that parses and checks the file against a zod schema, so that a damaged file is a
 * DataFileError naming the file and the first thing wrong with it, never a value of the wrong
 * shape passed on as if it were right.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Log } from '../domain.ts';
import { DataFileError } from '../errors.ts';

/** What a file is, for messages: `what` as in "not a valid variant manifest"; `hint` what to do then. */
export interface JsonFileKind {
  readonly what: string;
  readonly hint: string;
}

/**
 * A field JSON.stringify leaves out when it is undefined: accepted when absent, and typed
 * `T | undefined` (not `T?`) so that schemas match domain types written that way.
 */
export function absentOr<T extends z.ZodType>(schema: T) {
  return schema.optional().transform((v) => v);
}

/** `true` only when A and B are assignable to each other (a schema's output and its domain type). */
export type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compiles only when T is `true`: `type X = Holds<SameShape<z.output<typeof schema>, Type>>`. */
export type Holds<T extends true> = T;

function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), '');
}

/** The first problem zod found, on one line, and how many more there are. */
export function describeIssues(error: z.ZodError): string {
  const [first, ...rest] = error.issues;
  if (!first) return 'does not match its schema';
  const where = issuePath(first.path);
  return `${where ? `${where}: ` : ''}${first.message}${rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : ''}`;
}

/** Checks an already parsed value of `file` against `schema`. */
export function checkJson<S extends z.ZodType>(file: string, value: unknown, schema: S, kind: JsonFileKind): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new DataFileError(file, kind.what, 'invalid', describeIssues(result.error), kind.hint);
  return result.data;
}

/** `text` of `file` parsed as JSON and checked against `schema`. */
export function parseJson<S extends z.ZodType>(file: string, text: string, schema: S, kind: JsonFileKind): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataFileError(file, kind.what, 'not-json', (err as Error).message, kind.hint, { cause: err });
  }
  return checkJson(file, value, schema, kind);
}

/**
 * The file's text, or undefined when it does not exist (nor its directory: ENOTDIR when a parent
 * is a file); any other failure to read it is a DataFileError.
 */
export async function readTextIfPresent(file: string, kind: JsonFileKind): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new DataFileError(file, kind.what, 'unreadable', code ?? (err as Error).message, kind.hint, { cause: err });
  }
}

/** `file` parsed and checked; undefined when there is no such file (a cache not filled yet). */
export async function readJsonIfPresent<S extends z.ZodType>(file: string, schema: S, kind: JsonFileKind): Promise<z.output<S> | undefined> {
  const text = await readTextIfPresent(file, kind);
  return text === undefined ? undefined : parseJson(file, text, schema, kind);
}

/**
 * A cache file of ours, parsed and checked; undefined when there is none yet, or when it is
 * damaged: that is said in a warning ending in `kind.hint` (what happens instead), and the
 * caller makes the value again.
 */
export async function readCachedJson<S extends z.ZodType>(file: string, schema: S, kind: JsonFileKind, log: Pick<Log, 'warn'>): Promise<z.output<S> | undefined> {
  try {
    return await readJsonIfPresent(file, schema, kind);
  } catch (err) {
    if (!(err instanceof DataFileError)) throw err;
    log.warn(`${err.message}; ${kind.hint}`);
    return undefined;
  }
}
