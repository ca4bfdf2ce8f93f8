/**
 * The domain types, defined once. They flow one way through the stages:
 * config → plan → image/source → queue → build → export → report.
 */

/** The architectures the matrix builds; each has one row in pipeline/platforms.ts' ARCH_TABLE. */
export const ARCHES = ['X64', 'IA32', 'AARCH64', 'ARM', 'RISCV64', 'LOONGARCH64'] as const;
export type Arch = (typeof ARCHES)[number];

export const TARGETS = ['DEBUG', 'RELEASE', 'NOOPT'] as const;
export type Target = (typeof TARGETS)[number];

/** A `-D NAME=VALUE` define or a `--pcd NAME=VALUE`, value normalised to edk2's spelling. */
export type Assignments = Readonly<Record<string, string>>;

// ─── config ────────────────────────────────────────────────────────────────────────────────

export interface SourceFile {
  /** File name as published (Debian pool) or the base name of an archive. */
  readonly name: string;
  readonly sha256: string;
  /** Leading path components to strip when unpacking. */
  readonly strip: number;
}

export type SourceSpec =
  | {
      readonly kind: 'debian';
      readonly package: string;
      readonly version: string;
      /** Base URL of a Debian mirror; undefined = read the host's apt configuration. */
      readonly mirror: string | undefined;
      readonly files: readonly SourceFile[];
      readonly patches: readonly string[];
    }
  | {
      readonly kind: 'archive';
      /** Either a URL (http/https/file) or an absolute path. */
      readonly location: string;
      readonly file: SourceFile;
      readonly patches: readonly string[];
    }
  | {
      readonly kind: 'git';
      readonly url: string;
      readonly commit: string;
      readonly submodules: boolean;
      readonly patches: readonly string[];
    }
  | TreeSourceSpec;

/**
 * A working tree on this machine (`source: { path: ... }` or `--source-dir`), built as it is,
 * uncommitted changes included; what it holds is read when the run starts (source/tree-snapshot.ts).
 */
export interface TreeSourceSpec {
  readonly kind: 'tree';
  /** Absolute path of the tree. */
  readonly path: string;
  /** Always empty: a tree is built as it is (patch the tree itself). */
  readonly patches: readonly string[];
}

export interface BuilderSpec {
  /** Absolute path of the build context (holds the Dockerfile). */
  readonly context: string;
  /** Base image reference, e.g. `debian:trixie`. */
  readonly base: string;
  /** Debian suite used when the base image must be bootstrapped. */
  readonly suite: string;
  /** Debian mirror for bootstrapping; undefined = the host's apt configuration. */
  readonly mirror: string | undefined;
  /** Network mode for steps that need the package archive (image build). */
  readonly network: string;
  /**
   * Install from a dated snapshot of the Debian archive (`20251120T000000Z`), to rebuild an old
   * release exactly; its base URL comes from the environment, never from the repository.
   */
  readonly snapshot: string | undefined;
}

/** A path of keys in matrix.yaml, e.g. `['features', 'secureboot', 'defines', 'SECURE_BOOT_ENABLE']`. */
export type ConfigPath = readonly (string | number)[];

export interface MatrixConfig {
  /** Absolute path of the file this came from. */
  readonly file: string;
  /** file:line:col of a path's value (or its key) in the file, for errors found after loading. */
  readonly locate: (path: ConfigPath, at?: 'key' | 'value') => { readonly file: string; readonly line: number; readonly col: number };
  readonly source: SourceSpec;
  readonly builder: BuilderSpec;
  /** Where packagers install a variant's files (`{id}`, `{arch}` filled in); descriptors name it. */
  readonly installPrefix: string;
  readonly toolchain: string;
  /** Every variant the matrix expands into, in declaration order. */
  readonly variants: readonly Variant[];
}

// ─── plan ──────────────────────────────────────────────────────────────────────────────────

export interface QemuTarget {
  readonly binary: string;
  readonly machine: string;
  readonly cpu: string | undefined;
  readonly memoryMiB: number;
}

/** What edk2 and QEMU need to know about one (DSC, architecture) pair. */
export interface Platform {
  readonly dsc: string;
  /**
   * OVMF (x86, sized by FD_SIZE_* defines), or a `virt` machine's firmware with pflash of a
   * fixed size: ArmVirtQemu (64 MiB), RiscVVirtQemu (32 MiB), LoongArchVirtQemu (16 MiB).
   */
  readonly family: 'ovmf' | 'armvirt' | 'riscvvirt' | 'loongarchvirt';
  /** `-a` arguments, in order (SMM builds need IA32 and X64). */
  readonly buildArches: readonly Arch[];
  /** Directory under Build/ that the DSC's OUTPUT_DIRECTORY names. */
  readonly buildDir: string;
  /** Firmware volumes to export: the file in FV/ and the name it is published under. */
  readonly code: FirmwareOutput;
  readonly vars: FirmwareOutput;
  readonly qemu: QemuTarget;
}

export interface FirmwareOutput {
  readonly built: string;
  readonly published: string;
  /** Pad with zeros to exactly this many bytes (QEMU's `virt` pflash), or undefined. */
  readonly padTo: number | undefined;
}

/** A certificate to enroll: a file (of this repository or the matrix, sha256-pinned) or one the builder image carries. */
export type CertSource =
  | { readonly kind: 'file'; readonly path: string; readonly sha256: string }
  | { readonly kind: 'image'; readonly path: string };

export interface EnrolledCert {
  readonly source: CertSource;
  /** EFI signature owner GUID. */
  readonly owner: string;
}

/** A set of Secure Boot keys enrolled into an extra variable store of a secure-boot variant. */
export interface KeySet {
  /** `microsoft`, `snakeoil`, or a name from matrix.yaml's `keysets`. */
  readonly name: string;
  readonly pk: EnrolledCert;
  readonly kek: readonly EnrolledCert[];
  readonly db: readonly EnrolledCert[];
}

export interface Variant {
  /** Stable and readable, e.g. `x64-secureboot-release`. */
  readonly id: string;
  readonly arch: Arch;
  readonly target: Target;
  readonly toolchain: string;
  /** Names of the feature sets it combines, in matrix order. */
  readonly features: readonly string[];
  readonly platform: Platform;
  readonly defines: Assignments;
  readonly pcds: Assignments;
  /** Where in matrix.yaml each define was set (the last layer that set it). */
  readonly defineOrigins: Readonly<Record<string, ConfigPath>>;
  /** Where in matrix.yaml its platform DSC was chosen (the architecture, or a feature set). */
  readonly dscOrigin: ConfigPath;
  /** Key sets enrolled into extra variable stores (secure-boot variants), in matrix order. */
  readonly keySets: readonly KeySet[];
}

/** What a variant is, as its recipe and its manifest both state it. */
export interface VariantIdentity {
  readonly id: string;
  readonly arch: Arch;
  readonly target: Target;
  readonly toolchain: string;
  readonly features: readonly string[];
  readonly dsc: string;
  readonly defines: Assignments;
  readonly pcds: Assignments;
}

/** A file copied out of the finished build: its path in the container, its published name, its padding. */
export interface RecipeOutput {
  /** Absolute path in the build container. */
  readonly from: string;
  /** File name in the variant directory. */
  readonly name: string;
  /** Pad with zeros to exactly this many bytes, or undefined. */
  readonly padTo: number | undefined;
  /** A build that does not make this file (e.g. no UEFI Shell) is not an error. */
  readonly optional: boolean;
}

/**
 * A certificate as the recipe enrolls it: variable, owner, and what it is — a file by its
 * digest (never its path on this machine, which would make the key differ between clones;
 * `certificateFiles` of plan/recipe.ts finds the file), or one the builder image carries by its path.
 */
export interface RecipeCert {
  readonly variable: 'PK' | 'KEK' | 'db';
  readonly owner: string;
  readonly source: { readonly kind: 'file'; readonly sha256: string } | { readonly kind: 'image'; readonly path: string };
  /** Where the enrolment container reads it. */
  readonly path: string;
}

/** One key set enrolled into a copy of the empty variable store, after the build. */
export interface RecipeEnrolment {
  readonly keySet: string;
  /** virt-fw-vars' argv, run in the build's workspace. */
  readonly argv: readonly string[];
  readonly certificates: readonly RecipeCert[];
  /** Published names: the store, its descriptor, its launch script. */
  readonly varsTemplate: string;
  readonly descriptor: string;
  readonly launch: string;
}

/** A text file rendered from the recipe's facts (descriptors, launch scripts). */
export interface RenderedFile {
  readonly name: string;
  readonly text: string;
}

/**
 * Everything that decides a variant's published files, computed once in plan/ (see
 * plan/recipe.ts). Later stages read it and recompute none of it; its hash, with the source
 * and builder digests, is the content key.
 */
export interface Recipe extends VariantIdentity {
  readonly build: {
    /** edk2's `build` arguments without `-n` (threads only change speed; see buildArguments). */
    readonly args: readonly string[];
    /** Environment of the build container that decides its output. */
    readonly env: Readonly<Record<string, string>>;
    /** edk2's platform build directory in the workspace: `Build/<dir>/<TARGET>_<TOOLCHAIN>`. */
    readonly dir: string;
  };
  /** Firmware images, the UEFI Shell, enrolled stores: what is copied out of the build. */
  readonly outputs: readonly RecipeOutput[];
  readonly enrolments: readonly RecipeEnrolment[];
  readonly qemu: QemuLaunch;
  readonly install: {
    /** As configured (`{id}`, `{arch}` placeholders). */
    readonly prefix: string;
    /** Where the descriptors say the files are. */
    readonly dir: string;
  };
  /** The variant's own descriptor, among `rendered`. */
  readonly descriptor: string;
  /** QEMU firmware descriptors and launch scripts, as published. */
  readonly rendered: readonly RenderedFile[];
}

/** A variant as the run builds it: its recipe, content key, and the run's threads (not in the key). */
export interface BuildPlan {
  readonly variant: Variant;
  readonly recipe: Recipe;
  /** Content key (see plan/cache-key.ts). */
  readonly key: string;
  /** edk2's `-n`: how many modules one build compiles at once. */
  readonly threads: number;
}

// ─── image / source ────────────────────────────────────────────────────────────────────────

export interface BuilderImage {
  /** This engine's image id: local, differs between machines that built the same image. */
  readonly id: string;
  readonly tag: string;
  /**
   * What the image is, portable across machines: sha256 of its build context (Dockerfile,
   * scripts, package names and packages.lock, which pins every package version). Content keys
   * and releases name the builder by it.
   */
  readonly digest: string;
  /** sha256 of what packages.lock pins. */
  readonly lock: string;
  /** The archive snapshot it was installed from, if any. */
  readonly snapshot: string | undefined;
  /** `name=version` of every installed package, sorted. */
  readonly packages: readonly string[];
}

/** Where a tree came from, structured (for SBOM package URLs); the digests pin it. */
export type SourceOrigin =
  | { readonly kind: 'debian'; readonly package: string; readonly version: string }
  | { readonly kind: 'archive'; readonly location: string }
  | { readonly kind: 'git'; readonly url: string; readonly commit: string }
  /**
   * A local working tree: never released. `commit` is its git HEAD (undefined outside git);
   * `digest` covers the content that was built (see source/tree-snapshot.ts).
   */
  | { readonly kind: 'tree'; readonly commit: string | undefined; readonly digest: string };

/** A third-party library the edk2 tree carries (a git submodule), for the SBOM. */
export interface SourceComponent {
  readonly name: string;
  /** Directory inside the tree. */
  readonly path: string;
  /** Upstream repository, from .gitmodules. */
  readonly url: string | undefined;
  /** As the library states it (e.g. OpenSSL's VERSION.dat); undefined where it states none. */
  readonly version: string | undefined;
}

/** DSC path → every define name it (with includes, FDF and patches) understands. */
export type DefineCatalog = Readonly<Record<string, readonly string[]>>;

/** What the verified source says about itself, read once on the host and cached. */
export interface SourceFacts {
  readonly defines: DefineCatalog;
  /** SOURCE_DATE_EPOCH for builds: the newest file time in the source, not the clock. */
  readonly epoch: number;
  readonly components: readonly SourceComponent[];
}

export interface PreparedSource {
  /** sha256 over everything that determines the tree: digests, patches, image. */
  readonly key: string;
  /** Engine volume that holds the tree with BaseTools built. */
  readonly volume: string;
  /** Human description, e.g. `debian edk2 2025.02-8+deb13u1`. */
  readonly description: string;
  readonly origin: SourceOrigin;
  readonly digests: readonly { readonly name: string; readonly sha256: string }[];
  /** Bundled third-party libraries (from the source facts). */
  readonly components: readonly SourceComponent[];
  /** A working tree's files as built (source.path): what an incremental build compares. */
  readonly tree?: TreeContent;
}

/** The content of a working tree, file by file: what a kept build tree was built from. */
export interface TreeContent {
  readonly root: string;
  /** The tree's digest (source/tree-snapshot.ts). */
  readonly digest: string;
  /** Path → `type exec sha256` of every file. */
  readonly files: ReadonlyMap<string, string>;
}

// ─── build / export ────────────────────────────────────────────────────────────────────────

/**
 * A failed build's workspace, kept (`--keep-failed`) for `--shell`: an engine volume whose
 * labels say what the build was (read back from them, so `--shell` needs nothing else).
 */
export interface KeptWorkspace {
  /** Engine volume holding a copy of the build's /work as the build left it. */
  readonly volume: string;
  readonly variantId: string;
  readonly runId: string;
  /** The variant's content key. */
  readonly key: string;
  /** The builder image the build ran in: its engine id and its tag. */
  readonly image: { readonly id: string; readonly tag: string };
  /** The prepared source volume the build mounted read-only. */
  readonly sourceVolume: string;
  /** The compiler cache volume the build used, if any. */
  readonly ccacheVolume: string | undefined;
  /** The recipe's environment and edk2's `build` arguments, exactly as the build got them. */
  readonly env: Readonly<Record<string, string>>;
  readonly args: readonly string[];
}

export interface ArtifactFile {
  /** Relative to the variant directory in a manifest, to the artifacts dir in the index. */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface QemuLaunch {
  readonly binary: string;
  /** File names in the variant directory. */
  readonly code: string;
  readonly varsTemplate: string;
  /** Complete argv; `${CODE}` and `${VARS}` stand for the code image and a writable vars copy. */
  readonly argv: readonly string[];
  /** UEFI's default boot file on removable media (where verification offers the Shell). */
  readonly removableBootFile: string;
  /** Node's `os.arch()` of a host whose KVM runs this guest; undefined when none does. */
  readonly kvmHostArch: 'x64' | 'arm64' | undefined;
}

export const MANIFEST_FORMAT = 2;

export interface Manifest extends VariantIdentity {
  readonly generator: 'edk2-matrix';
  readonly formatVersion: typeof MANIFEST_FORMAT;
  /** Content key: same key, same bytes (see plan/cache-key.ts). */
  readonly key: string;
  readonly build: {
    /** edk2's `build` arguments (without `-n`, which only changes speed). */
    readonly args: readonly string[];
    readonly env: Readonly<Record<string, string>>;
  };
  readonly source: {
    readonly description: string;
    readonly origin: SourceOrigin;
    readonly key: string;
    readonly digests: readonly { readonly name: string; readonly sha256: string }[];
    readonly components: readonly SourceComponent[];
  };
  readonly builder: {
    /** The builder's portable identity (see BuilderImage.digest). */
    readonly digest: string;
    readonly lock: string;
    readonly snapshot: string | undefined;
    readonly packages: readonly string[];
  };
  /** Every file of the variant directory but the manifest itself. */
  readonly files: readonly ArtifactFile[];
  readonly qemu: QemuLaunch;
  /** File name of the QEMU firmware descriptor in the variant directory. */
  readonly descriptor: string;
  /** Variable stores with key sets enrolled (secure-boot variants that ask for them). */
  readonly enrolled: readonly EnrolledStore[];
}

/** A certificate as enrolled: which variable holds it, its subject and SHA-256 fingerprint. */
export interface EnrolledCertRecord {
  readonly variable: 'PK' | 'KEK' | 'db';
  readonly owner: string;
  readonly subject: string;
  readonly sha256: string;
}

export interface EnrolledStore {
  readonly keySet: string;
  /** File names in the variant directory. */
  readonly varsTemplate: string;
  readonly descriptor: string;
  readonly launch: string;
  readonly certificates: readonly EnrolledCertRecord[];
}

/**
 * What depends on the run, not on the inputs (`<id>/build-record.json`): how long the build
 * took, with how many threads, in which local image, and whether two builds were compared.
 * manifest.json holds only what the inputs decide.
 */
export interface BuildRecord {
  readonly id: string;
  readonly key: string;
  readonly seconds: number;
  readonly threads: number;
  /** This engine's image id (another machine builds another id from the same lock). */
  readonly image: string;
  /** Whether the files were shown identical across two clean builds; undefined when not checked. */
  readonly reproducible: boolean | undefined;
  /**
   * How a working tree's build started: from the variant's kept build tree (`incremental`), or
   * from nothing with its reason (`clean: no kept build yet`); undefined for any other source.
   */
  readonly start: string | undefined;
}

/** The last boot verification of a published variant (`<id>/boot.json`). */
export interface BootRecord extends BootAttempt {
  readonly at: string;
  /** Every boot, when the variant was booted with more than one QEMU (`--qemu both`); the fields above are the first failed one's, else the first's. */
  readonly boots: readonly BootAttempt[] | undefined;
}

/** Where the QEMU that booted a variant came from: the host, or verification's QEMU image. */
export type QemuWhere = 'host' | 'image';

export interface QemuUsed {
  /** As its `--version` says (`7.2.22`); `none` when the host has no such binary. */
  readonly version: string;
  readonly where: QemuWhere;
}

/** One boot of a variant with one QEMU. */
export interface BootAttempt {
  readonly ok: boolean;
  readonly secondsToShell: number | undefined;
  readonly accel: 'tcg' | 'kvm';
  /** True when the UEFI Shell had to be offered on a disk (edk2 from stable202505 on). */
  readonly shellDisk: boolean;
  readonly reason: string | undefined;
  /** Undefined in records written before verification named its QEMU. */
  readonly qemu: QemuUsed | undefined;
}

export interface IndexEntry {
  readonly id: string;
  readonly key: string;
  /** From build-record.json; undefined when the directory has none. */
  readonly buildSeconds: number | undefined;
  readonly arch: Arch;
  readonly target: Target;
  readonly features: readonly string[];
  readonly defines: Assignments;
  readonly files: readonly ArtifactFile[];
  readonly manifest: string;
  /** QEMU firmware descriptor, relative to the artifacts dir. */
  readonly descriptor: string;
  readonly boot: BootRecord | undefined;
}

export interface Index {
  readonly generator: 'edk2-matrix';
  readonly formatVersion: typeof MANIFEST_FORMAT;
  readonly variants: readonly IndexEntry[];
}

// ─── release ───────────────────────────────────────────────────────────────────────────────

/** An asset of a release besides index.json, SHA256SUMS, its signature and the provenance. */
export interface ReleaseAsset {
  readonly name: string;
  readonly kind: 'archive' | 'sbom';
  readonly variant: string;
  readonly sha256: string;
  readonly size: number;
}

/** What a release was made from, recorded once for all its variants. */
export interface ReleaseInfo {
  /** The git tag it was cut for, if any. */
  readonly tag: string | undefined;
  /** The commit of this repository it was built from, if known. */
  readonly commit: string | undefined;
  /** matrix.yaml as given to `release assemble --config`: path and digest. */
  readonly matrix: { readonly path: string; readonly sha256: string } | undefined;
  /** Every date in the release (archive mtimes, SBOM timestamps, signature) is this one. */
  readonly sourceDateEpoch: number;
  readonly source: Manifest['source'];
  /** The builder (digest of its build context), its packages.lock digest, the archive snapshot it used. */
  readonly builder: { readonly digest: string; readonly lock: string; readonly snapshot: string | undefined };
  /** edk2-matrix version that assembled it. */
  readonly generatorVersion: string;
  /** What `npm run rebuild` builds it again from; undefined when assembled without --config. */
  readonly inputs?: ReleaseInputs | undefined;
}

/** A file the matrix names (builder context, patch, certificate), carried in the release. */
export interface InputFile {
  /** Relative to the carried matrix: `builder/…`, `patches/<n>/<name>`, `keysets/<sha256>.pem`. */
  readonly path: string;
  readonly executable: boolean;
  readonly sha256: string;
  /** The file's bytes, base64. */
  readonly data: string;
}

/**
 * The matrix a release was built from, with every file it names, so that the release alone
 * is enough to build it again (release/release-inputs.ts). Its plan gives the variants' keys.
 */
export interface ReleaseInputs {
  /** matrix.yaml as given to assemble, its file references rewritten to name `files`. */
  readonly matrix: string;
  readonly files: readonly InputFile[];
}

export const RELEASE_FORMAT = 1;

/** A variant in a release's index: the artifacts index entry without what depends on the run. */
export type ReleaseVariant = Omit<IndexEntry, 'buildSeconds' | 'boot'>;

/** A release's index.json: the artifacts index, plus what the release is and its assets. */
export interface ReleaseIndex {
  readonly generator: 'edk2-matrix-release';
  readonly formatVersion: typeof RELEASE_FORMAT;
  readonly release: ReleaseInfo;
  readonly assets: readonly ReleaseAsset[];
  readonly variants: readonly ReleaseVariant[];
}

// ─── install (pull) ───────────────────────────────────────────────────────────────────────

/** One variant installed by `pull`. Paths are as recorded in descriptors (without DESTDIR). */
export interface InstalledVariant {
  readonly id: string;
  /** The stable directory descriptors name (in a live install, a link to the store directory). */
  readonly dir: string;
  /** The immutable store directory holding the files (the same as `dir` under --destdir). */
  readonly storeDir: string;
  /**
   * 'debian' (`pull --layout debian`): `files` are paths under `storeDir` (/usr/share) in
   * Debian's layout, shared with other variants' files; absent: the variant's own directory.
   */
  readonly layout?: 'debian';
  readonly files: readonly ArtifactFile[];
  /** The QEMU firmware descriptors written for it (its own, and one per enrolled store), with their digests. */
  readonly descriptors: readonly { readonly path: string; readonly sha256: string }[];
  /** Where it came from. */
  readonly release: {
    readonly location: string;
    readonly tag: string | undefined;
    readonly keyId: string;
    readonly archiveSha256: string;
    /** When the release was signed (its trusted comment): what `pull` compares to refuse a downgrade. */
    readonly signedAt?: number | undefined;
  };
}

export const RECEIPT_FORMAT = 2;

/** What `pull` installed in one place: `--check` re-hashes it, `uninstall` removes exactly it. */
export interface Receipt {
  readonly generator: 'edk2-matrix-pull';
  readonly formatVersion: typeof RECEIPT_FORMAT;
  readonly variants: readonly InstalledVariant[];
  /** Directories pull created (as recorded, without DESTDIR): removed, when empty, with the last variant. */
  readonly directories: readonly string[];
}

// ─── report ────────────────────────────────────────────────────────────────────────────────

/** Where a published variant came from: a build now, the artifact cache, or already in place. */
export type Provenance = 'built' | 'cache' | 'up to date';

export type VariantOutcome =
  | {
      readonly id: string;
      readonly status: 'built';
      readonly seconds: number;
      readonly dir: string;
      readonly from: Provenance;
      /** CPU time its build containers used (0 when nothing was built). */
      readonly cpuSeconds: number;
    }
  | { readonly id: string; readonly status: 'failed'; readonly seconds: number; readonly error: Error }
  | { readonly id: string; readonly status: 'cancelled' };

/** The part of a reporter the stages need: messages about the work they do. */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
}
