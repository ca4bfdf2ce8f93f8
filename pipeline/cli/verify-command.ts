/**
 * `npm run verify`: boots every variant of an artifacts directory to the UEFI Shell with its
 * own manifest argv. Exit status: 0 all booted, 1 one failed, 2 bad usage, 130 interrupted.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { readVariantDirs } from '../export/artifacts-index.ts';
import { createReporter } from '../report/create-reporter.ts';
import { verifyArtifacts, VERIFY_TIMEOUT_MS, type Accel } from '../verify/verify-artifacts.ts';
import { verifyTable } from '../verify/verify-table.ts';
import { positiveInt } from './args.ts';
import { selectVariants } from '../config/select.ts';

const HELP = `Usage: npm run verify -- [options]

Boots every variant in the artifacts directory with its manifest's QEMU argv and a fresh copy
of its vars template; a variant passes when the UEFI Shell prompt appears and \`reset -s\` makes
QEMU exit 0. Results go to <variant>/boot.json and index.json; a failure keeps the serial
console in <variant>/boot-serial.log.

Options:
  --out DIR        artifacts directory (default: artifacts)
  --only IDS       only these variants: comma-separated ids or globs
  --jobs N         boots at once (default: the number of cores)
  --timeout SEC    seconds a boot may take (default: ${VERIFY_TIMEOUT_MS / 1000})
  --accel MODE     auto (KVM where usable and the guest matches the host), tcg or kvm
  -h, --help       this help
`;

export async function verifyCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        out: { type: 'string', default: 'artifacts' },
        only: { type: 'string' },
        jobs: { type: 'string' },
        timeout: { type: 'string' },
        accel: { type: 'string', default: 'auto' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!, 'see npm run verify -- --help');
  }
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!['auto', 'tcg', 'kvm'].includes(v.accel!)) throw new UsageError(`--accel ${v.accel}: expected auto, tcg or kvm`);
  const outDir = resolve(v.out!);
  if (!existsSync(outDir)) throw new UsageError(`no artifacts directory at ${outDir}`, 'build first with npm run matrix, or pass --out');
  const present = await readVariantDirs(outDir);
  if (present.length === 0) throw new UsageError(`${outDir} holds no variant`, 'build first with npm run matrix');
  const only = v.only === undefined ? undefined : new Set(selectVariants(present.map((d) => d.manifest), v.only).map((m) => m.id));
  const outcomes = await verifyArtifacts({
    outDir,
    only,
    jobs: positiveInt('jobs', v.jobs) ?? availableParallelism(),
    timeoutMs: (positiveInt('timeout', v.timeout) ?? VERIFY_TIMEOUT_MS / 1000) * 1000,
    accel: v.accel as Accel,
  }, createReporter(), signal);
  process.stderr.write(`\n${verifyTable(outcomes)}\n`);
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

