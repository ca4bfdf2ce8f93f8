/**
 * Errors carry fields for code and a one-line message for people: what went wrong, where,
 * and (in `hint`) what to do about it.
 */

export abstract class MatrixError extends Error {
  /** What to do about it, one sentence. */
  readonly hint: string | undefined;
  /** Process exit code the CLI uses when this error ends the run. */
  abstract readonly exitCode: number;

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }

  /** Message and hint on one line. */
  get oneLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Bad input in matrix.yaml: found before any engine work starts. */
export class ConfigError extends MatrixError {
  readonly exitCode = 2;
  constructor(
    readonly detail: string,
    readonly where: SourcePosition | { readonly file: string },
    readonly key: string | undefined,
    hint?: string,
  ) {
    super(`${formatWhere(where)}: ${key ? `${key}: ` : ''}${detail}`, hint);
  }
}

/** Bad command-line usage. */
export class UsageError extends MatrixError {
  readonly exitCode = 2;
}

/** The container engine is missing, unreachable or refused a request. */
export class EngineError extends MatrixError {
  readonly exitCode = 1;
}

/**
 * The engine stopped answering in the middle of a run (it was stopped, crashed, or its socket
 * went away). Nothing more can be done in it: the run stops starting variants, and what it left
 * in the engine is for `--clean` once the engine is back.
 */
export class EngineLostError extends EngineError {
  constructor(
    readonly host: string,
    readonly doing: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(
      `lost the container engine at ${host} while ${doing} (${code})`,
      'start the engine again, then `npm run matrix -- --clean` removes what this run left in it',
      options,
    );
  }
}

/** The builder or base image could not be made. */
export class ImageError extends MatrixError {
  readonly exitCode = 1;
}

/** The edk2 source could not be fetched, verified, unpacked or patched. */
export class SourceError extends MatrixError {
  readonly exitCode = 1;
}

/** Why a build failed: what the code branches on (the message is for people). */
export type BuildFailure = 'exit-status' | 'timeout' | 'out-of-memory' | 'killed' | 'log-write';

/** One variant's build failed. */
export class BuildError extends MatrixError {
  readonly exitCode = 1;
  constructor(
    readonly variantId: string,
    readonly kind: BuildFailure,
    readonly reason: string,
    readonly exitStatus: number | undefined,
    readonly logPath: string | undefined,
    readonly lastLines: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `${variantId}: ${reason}${logPath ? `; log: ${logPath}` : ''}`,
      logPath ? 'read the end of the log for the first error edk2 reported' : undefined,
      options,
    );
  }
}

/** Two clean builds of one variant gave different bytes. */
export class ReproducibilityError extends MatrixError {
  readonly exitCode = 1;
  constructor(
    readonly variantId: string,
    readonly files: readonly string[],
    readonly modules: readonly string[],
  ) {
    const shown = modules.slice(0, 5).join(', ') + (modules.length > 5 ? ` and ${modules.length - 5} more` : '');
    super(
      `${variantId}: two clean builds differ in ${files.join(', ')}${modules.length ? `; modules that differ: ${shown}` : ''}`,
      'something non-deterministic leaks into the build (a date, a path, a random value): compare build.log and build.second.log under failed/',
    );
  }
}

/** Exporting or publishing a variant's files failed. */
export class ExportError extends MatrixError {
  readonly exitCode = 1;
  constructor(
    readonly variantId: string,
    detail: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(`${variantId}: ${detail}`, hint, options);
  }
}

/**
 * A release that cannot be assembled, signed or trusted. `link` names the first broken link of
 * the chain (public key → signature → SHA256SUMS → asset → file inside it), or the shard and
 * variant that stopped assembly.
 */
export class ReleaseError extends MatrixError {
  readonly exitCode = 1;
  constructor(
    readonly link: string,
    readonly detail: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(`${link}: ${detail}`, hint, options);
  }
}

/** Installing a verified release failed at the destination (no space, no permission, ...); it was undone. */
export class InstallError extends MatrixError {
  readonly exitCode = 1;
  constructor(
    readonly destination: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`install into ${destination}: ${detail}; nothing was changed`, 'free space or fix permissions there, or install elsewhere (--user, --prefix, --destdir)', options);
  }
}

/**
 * The state `pull` keeps at a destination stands in the way: its receipt cannot be read, another
 * pull holds the destination, an interrupted pull cannot be repaired, or files cannot be removed.
 */
export class DestinationError extends MatrixError {
  readonly exitCode = 1;
}

/** Why a JSON file we wrote earlier cannot be used: what the code branches on. */
export type DataFileProblem = 'unreadable' | 'not-json' | 'invalid';

/**
 * A JSON file edk2-matrix wrote and reads back (a manifest, a cache record) that is damaged:
 * it cannot be read, is not JSON, or does not have the shape its schema asks for.
 */
export class DataFileError extends MatrixError {
  readonly exitCode = 1;
  constructor(
    readonly file: string,
    /** What the file should be, e.g. "variant manifest". */
    readonly what: string,
    readonly problem: DataFileProblem,
    readonly detail: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${problem === 'unreadable' ? `cannot read this ${what}` : problem === 'not-json' ? `this ${what} is not JSON` : `not a valid ${what}`}: ${detail}`, hint, options);
  }
}

/** A firmware image whose volumes, files or sections do not parse; `where` names the byte offset. */
export class FirmwareFormatError extends MatrixError {
  readonly exitCode = 1;
  constructor(readonly where: string, readonly detail: string) {
    super(`${where}: ${detail}`, 'the image is damaged or was not built by edk2: compare it byte for byte instead');
  }
}

/** The run was interrupted (Ctrl-C, SIGTERM). */
export class CancelledError extends MatrixError {
  readonly exitCode = 130;
  constructor(reason = 'interrupted') {
    super(`cancelled: ${reason}`);
  }
}

function formatWhere(where: SourcePosition | { readonly file: string }): string {
  return 'line' in where ? `${where.file}:${where.line}:${where.col}` : where.file;
}

/** Message of any thrown value, for places that must print whatever arrived. */
export function describeError(err: unknown): string {
  if (err instanceof MatrixError) return err.oneLine;
  if (err instanceof Error) return err.message;
  return String(err);
}
