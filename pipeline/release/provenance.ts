/**
 * The release's SLSA v1 provenance as an in-toto Statement v1 (`sign` wraps it in a DSSE
 * envelope signed with the release key, dsse.ts): builder.id is the workflow file at its ref,
 * buildType GitHub's workflow build type with externalParameters.workflow {ref, repository,
 * path} when run by GitHub Actions (a URN for a local run); subjects are the release's
 * assets (index, archives, SBOMs); external parameters are what a person chose (matrix.yaml
 * digest, tag, variants); resolved dependencies are what the build consumed (the source files
 * and patches, the builder's context and lock, the archive snapshot, this repository's commit).
 * Pure and deterministic.
 */
import type { ReleaseIndex } from '../domain.ts';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** What an edk2-matrix release build is, run outside GitHub Actions; a URN because it names a build recipe, not a page. */
export const BUILD_TYPE = 'urn:edk2-matrix:release:v1';
/** SLSA v1's build type for a GitHub Actions workflow: externalParameters.workflow says which. */
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1';

export interface Subject {
  readonly name: string;
  readonly sha256: string;
}

export interface BuildRun {
  /** Who ran the build: the GitHub workflow (server/repository/workflow ref) or a local run. */
  readonly builderId: string;
  readonly invocationId: string | undefined;
  /** This repository's URL, when the run knows it. */
  readonly repository: string | undefined;
  /** The GitHub workflow that ran (SLSA's externalParameters.workflow), in GitHub Actions. */
  readonly workflow?: { readonly ref: string; readonly repository: string; readonly path: string } | undefined;
}

/** The builder identity from GitHub Actions' environment, or a local one. */
export function buildRunFromEnv(env: NodeJS.ProcessEnv = process.env): BuildRun {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_SERVER_URL && env.GITHUB_WORKFLOW_REF) {
    const attempt = env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : '';
    // GITHUB_WORKFLOW_REF is owner/repo/.github/workflows/release.yml@refs/heads/main.
    const [, repo, path, ref] = /^([^/]+\/[^/]+)\/(.+)@(.+)$/.exec(env.GITHUB_WORKFLOW_REF) ?? [];
    return {
      workflow: repo && path && ref ? { ref, repository: `${env.GITHUB_SERVER_URL}/${repo}`, path } : undefined,
      builderId: `${env.GITHUB_SERVER_URL}/${env.GITHUB_WORKFLOW_REF}`,
      invocationId: env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${attempt}` : undefined,
      repository: env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}` : undefined,
    };
  }
  return { builderId: 'urn:edk2-matrix:builder:local', invocationId: undefined, repository: undefined };
}

export function provenanceStatement(index: ReleaseIndex, subjects: readonly Subject[], run: BuildRun): Record<string, unknown> {
  const r = index.release;
  const commitDep = r.commit ? [{ name: 'edk2-matrix', ...(run.repository ? { uri: `git+${run.repository}` } : {}), digest: { gitCommit: r.commit } }] : [];
  // A git source is pinned by commit, the others by the sha256 of each file.
  const digestOf = (hex: string) => (/^[0-9a-f]{40}$/.test(hex) ? { gitCommit: hex } : { sha256: hex });
  return {
    _type: STATEMENT_TYPE,
    subject: [...subjects].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: run.workflow ? GITHUB_WORKFLOW_BUILD_TYPE : BUILD_TYPE,
        externalParameters: {
          ...(run.workflow ? { workflow: run.workflow } : {}),
          ...(r.matrix ? { matrix: { path: r.matrix.path, digest: { sha256: r.matrix.sha256 } } } : {}),
          ...(r.tag ? { tag: r.tag } : {}),
          ...(r.builder.snapshot ? { archiveSnapshot: r.builder.snapshot } : {}),
          variants: index.variants.map((v) => v.id),
        },
        internalParameters: { sourceDateEpoch: r.sourceDateEpoch, generatorVersion: r.generatorVersion },
        resolvedDependencies: [
          ...r.source.digests.map((d) => ({ name: d.name, digest: digestOf(d.sha256) })),
          { name: 'edk2-matrix builder (build context, packages.lock)', digest: { sha256: r.builder.digest } },
          { name: 'builder packages.lock', digest: { sha256: r.builder.lock } },
          ...commitDep,
        ],
      },
      runDetails: {
        builder: { id: run.builderId },
        metadata: run.invocationId ? { invocationId: run.invocationId } : {},
      },
    },
  };
}
