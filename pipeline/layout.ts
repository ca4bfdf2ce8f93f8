/**
 * The name and mode of every file edk2-matrix writes: the artifacts directory a run publishes,
 * the release `release assemble` makes from it, and the install `pull` makes from a release.
 * Every stage takes names from here; docs/architecture.md shows the same layout as a picture.
 */

// ─── artifacts/ (npm run matrix) ───────────────────────────────────────────────────────────

/** Every variant: id, arch, flags, files with sha256 and size (see domain.ts `Index`). */
export const INDEX_FILE = 'index.json';
/** Every file below the directory, `sha256sum -c` format, relative paths. */
export const SUMS_FILE = 'SHA256SUMS';
/** Failure records: `failed/<id>/{build.log,error.txt}`. */
export const FAILED_DIR = 'failed';
export const FAILURE_REASON = 'error.txt';

/** The last run's timeline picture (variants, phases, cores busy). */
export const TIMELINE_FILE = 'timeline.svg';
/** The same as data: every span (row, phase, start, end) and cores-busy sample. */
export const TIMELINE_DATA = 'timeline.json';

// In each variant directory (`<id>/`):
export const MANIFEST_FILE = 'manifest.json';
export const BUILD_LOG = 'build.log';
/** The second build's log, kept beside the first when two clean builds differ. */
export const SECOND_BUILD_LOG = 'build.second.log';
export const LAUNCH_SCRIPT = 'launch.sh';
/** The build's UEFI Shell application, published when the build made one. */
export const SHELL_FILE = 'Shell.efi';
/** Written by boot verification after publishing: not in the manifest, hashed at index time. */
export const BOOT_RECORD = 'boot.json';
export const BOOT_SERIAL_LOG = 'boot-serial.log';

/** What the run decided, not the inputs: seconds, threads, the local image id (see domain.ts BuildRecord). */
export const BUILD_RECORD = 'build-record.json';

/**
 * Run records: files whose bytes depend on the run (when, how long, on which machine, whether
 * it booted), not only on the inputs. The manifest does not list them, reproducibility checks
 * and release archives leave them out; everything else a variant publishes is the same for
 * the same content key.
 */
export const RUN_RECORDS: readonly string[] = [BUILD_LOG, SECOND_BUILD_LOG, BUILD_RECORD, BOOT_RECORD, BOOT_SERIAL_LOG];

/** QEMU firmware descriptor: `NN-edk2-<id>.json`, NN the priority (lower wins in QEMU and libvirt). */
export function descriptorName(priority: number, id: string): string {
  return `${priority}-edk2-${id}.json`;
}

/** A variable store with a key set enrolled: `OVMF_VARS.fd` → `OVMF_VARS.microsoft.fd`. */
export function enrolledVarsName(vars: string, keySet: string): string {
  const dot = vars.lastIndexOf('.');
  return dot > 0 ? `${vars.slice(0, dot)}.${keySet}${vars.slice(dot)}` : `${vars}.${keySet}`;
}

const ENROLLED_LAUNCH = { prefix: 'launch-', suffix: '.sh' } as const;

/** The launch script that boots a variant with a key set's store: `launch-microsoft.sh`. */
export function enrolledLaunchScript(keySet: string): string {
  return `${ENROLLED_LAUNCH.prefix}${keySet}${ENROLLED_LAUNCH.suffix}`;
}

/** Enrolled stores get their own descriptors, numbered as distributions number theirs: 40 (and up, in matrix order). */
export const ENROLLED_PRIORITY = 40;

/** Mode of a published file: launch scripts are executable, everything else is not. */
export function fileMode(name: string): number {
  const enrolled = name.startsWith(ENROLLED_LAUNCH.prefix) && name.endsWith(ENROLLED_LAUNCH.suffix);
  return name === LAUNCH_SCRIPT || enrolled ? 0o755 : 0o644;
}

/** In a variant directory: its files' sizes, times and inodes when last known good (see export/fingerprint.ts). */
export const FINGERPRINT_FILE = '.fingerprint.json';

/** Prefix of every temporary entry we create beside what we publish; the pid tells whose it is. */
export const TEMP_PREFIX = '.tmp-';

// ─── a release (npm run release -- assemble) ─────────────────────────────────────────────

// The release's index.json and SHA256SUMS carry the same names as in artifacts/.
/** minisign signature over SHA256SUMS. */
export const SIGNATURE_FILE = `${SUMS_FILE}.minisig`;
/** GitHub's build provenance attestation (a Sigstore bundle), published beside the release by the workflow. */
export const ATTESTATION_BUNDLE_FILE = 'attestation.sigstore.json';
/** SLSA v1 provenance as one in-toto Statement v1 per line. */
export const PROVENANCE_FILE = 'provenance.intoto.jsonl';
/** One variant directory as a deterministic archive. */
export const archiveName = (id: string): string => `${id}.tar.xz`;
/** One variant's CycloneDX SBOM. */
export const sbomName = (id: string): string => `${id}.cdx.json`;
/** The public key `release verify` and `pull` trust by default, kept in the repository. */
/** The repository's trust store (pipeline/release/trust.ts): the default of `verify`, `pull` and `check-signing`. */
export const DEFAULT_TRUST_DIR = 'keys/trust';
export const SECRET_KEY_FILE = 'release.key';
export const PUBLIC_KEY_FILE = 'release.pub';

// ─── an install (pull) ───────────────────────────────────────────────────────────────────

/** What `pull` installed from which release, every file's hash: `uninstall` removes exactly this. */
export const RECEIPT_FILE = 'receipt.json';
/** Where installed variant contents live, one immutable directory per content digest. */
export const STORE_DIR = '.store';
