/**
 * `npm run verify`: boots every variant of an artifacts directory to the UEFI Shell with its
 * own manifest argv. Exit status: 0 all booted, 1 one failed, 2 bad usage, 130 interrupted.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { readVariantDirs } from '../export/artifacts-index.ts';
import { createReporter } from '../report/create-reporter.ts';
import { verifyArtifacts, VERIFY_TIMEOUT_MS, type Accel } from '../verify/verify-artifacts.ts';
import { verifyTable } from '../verify/verify-table.ts';
import { selectVariants } from '../config/select.ts';
import { commandIo, type CommandContext } from './command-context.ts';
import { parseOptions, renderHelp, type CommandSpec } from './options.ts';
import { inScope, lockSummary } from './builder-commands.ts';
import { qemuImageSpec, updateQemuLock } from '../image/qemu-image.ts';
import { QEMU_CHOICES, type QemuChoice } from '../verify/qemu-choice.ts';
import { defaultCacheDir } from './matrix-command.ts';

const ACCELS: readonly Accel[] = ['auto', 'tcg', 'kvm'];

export const VERIFY_OPTIONS = {
  out: { type: 'string', arg: 'DIR', default: 'artifacts', help: 'artifacts directory (default: artifacts)' },
  only: { type: 'string', arg: 'IDS', help: 'only these variants: comma-separated ids or globs' },
  jobs: { type: 'count', arg: 'N', help: 'boots at once (default: the number of cores)' },
  timeout: { type: 'duration', default: VERIFY_TIMEOUT_MS, help: 'how long a boot may take: 90s, 5m' },
  accel: { type: 'string', arg: 'MODE', default: 'auto', choices: ACCELS, help: 'auto (KVM where usable and the guest matches the host), tcg or kvm' },
  qemu: { type: 'string', arg: 'WHERE', default: 'auto', choices: QEMU_CHOICES, help: 'auto (the host\'s QEMU when at least the architecture\'s minimum version, else the QEMU image), host, image or both' },
  'update-qemu-lock': { type: 'flag', help: 'write dockerfiles/qemu/packages.lock anew from the Debian archive\'s newest packages, and stop' },
} as const;

export const VERIFY_COMMAND: CommandSpec<typeof VERIFY_OPTIONS> = {
  command: 'npm run verify',
  usage: ['[options]'],
  about: `Boots every variant in the artifacts directory with its manifest's QEMU argv and a fresh copy
of its vars template; a variant passes when the UEFI Shell prompt appears and \`reset -s\` makes
QEMU exit 0. Results go to <variant>/boot.json and index.json; a failure keeps the serial
console in <variant>/boot-serial.log.

Which QEMU: the host's when its version is at least the architecture's minimum (--qemu auto),
else the QEMU image's (dockerfiles/qemu, built on first use like the builder image, run in a
container without network, under TCG). The table and boot.json say which booted each variant.`,
  options: VERIFY_OPTIONS,
  footer: 'Exit status: 0 all booted, 1 a variant failed to boot, 2 bad usage, 130 interrupted.',
};

export async function verifyCommand(argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const { values: v, help } = parseOptions(VERIFY_COMMAND, argv);
  const { stdout, stderr, engine } = commandIo(ctx);
  if (help) {
    stdout.write(renderHelp(VERIFY_COMMAND));
    return 0;
  }
  if (v.updateQemuLock) {
    const reporter = createReporter(stderr);
    stdout.write(lockSummary(await inScope(engine(), reporter, signal, (scope) =>
      reporter.stage('qemu lock', () => updateQemuLock(scope, qemuImageSpec(), reporter, signal)))));
    return 0;
  }
  const outDir = resolve(v.out);
  if (!existsSync(outDir)) throw new UsageError(`no artifacts directory at ${outDir}`, 'build first with npm run matrix, or pass --out');
  const present = await readVariantDirs(outDir);
  if (present.length === 0) throw new UsageError(`${outDir} holds no variant`, 'build first with npm run matrix');
  const only = v.only === undefined ? undefined : new Set(selectVariants(present.map((d) => d.manifest), v.only).map((m) => m.id));
  const outcomes = await verifyArtifacts({
    outDir,
    only,
    jobs: v.jobs ?? availableParallelism(),
    timeoutMs: v.timeout,
    accel: v.accel as Accel,
    qemu: v.qemu as QemuChoice,
    qemuImage: { engine: engine(), spec: qemuImageSpec(), cacheDir: resolve(defaultCacheDir()) },
  }, createReporter(stderr), signal);
  stderr.write(`\n${verifyTable(outcomes)}\n`);
  return outcomes.every((o) => o.ok) ? 0 : 1;
}
