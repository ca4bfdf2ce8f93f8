/**
 * How many variants build at once and with how many threads each, from the cores and memory.
 * edk2's `build -n` keeps the cores busy in its compile phase, while AutoGen and GenFds are
 * single-threaded: a lone build leaves cores idle there. So at least two builds run side by
 * side, each allowed at least two threads, and the other's compile fills the gaps. Measured on
 * 2 cores (npm run bench, 4 variants cold): one build × 2 threads kept the cores 65 % busy,
 * two × 2 kept them 94 % busy and took 0.64 of the time.
 */
export interface Schedule {
  readonly jobs: number;
  readonly threads: number;
  readonly memoryBytes: number;
}

export interface ScheduleInput {
  readonly cores: number;
  readonly memoryBytes: number;
  readonly variants: number;
  readonly jobs?: number | undefined;
  readonly threads?: number | undefined;
  /** Memory limit per build, overriding the computed one. */
  readonly buildMemoryBytes?: number | undefined;
}

const GiB = 2 ** 30;
/** An edk2 build with OpenSSL stays well below this; it bounds a runaway one. */
const MAX_BUILD_MEMORY = 8 * GiB;
const MIN_BUILD_MEMORY = 2 * GiB;

export function schedule(i: ScheduleInput): Schedule {
  const cores = Math.max(1, i.cores);
  const byMemory = Math.max(1, Math.floor((i.memoryBytes * 0.8) / MIN_BUILD_MEMORY));
  const wanted = i.jobs ?? Math.min(Math.max(2, Math.floor(cores / 2)), byMemory);
  const jobs = Math.max(1, Math.min(wanted, i.variants));
  const threads = Math.max(1, i.threads ?? Math.max(2, Math.ceil(cores / jobs)));
  const memoryBytes = i.buildMemoryBytes ?? Math.max(MIN_BUILD_MEMORY, Math.min(MAX_BUILD_MEMORY, Math.floor((i.memoryBytes * 0.8) / jobs)));
  return { jobs, threads, memoryBytes };
}
