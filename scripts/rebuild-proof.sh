#!/bin/sh
# The two-architecture rebuild proof (docs/rebuild.md), which CI does for one variant only:
# builds VARIANTS of matrix.yaml (default x64-debug and aarch64-debug) with this clone's cache,
# assembles and signs a release of them with a throw-away key, then rebuilds that release from
# the release alone in an empty cache directory of its own and compares every file and asset.
# Exit 0 when every variant is identical. Usage: scripts/rebuild-proof.sh [WORKDIR]
set -eu
cd "$(dirname "$0")/.."
VARIANTS=${VARIANTS:-x64-debug,aarch64-debug}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/edk2-matrix-rebuild-proof-XXXXXX")}
mkdir -p "$work"
echo "rebuild-proof: $VARIANTS in $work" >&2

# A matrix of exactly these variants: assemble insists on every variant its matrix declares.
node --import tsx -e '
  const { readFileSync, writeFileSync } = await import("node:fs");
  const { parseDocument } = await import("yaml");
  const doc = parseDocument(readFileSync("matrix.yaml", "utf8"));
  const ids = process.argv[1].split(",");
  doc.setIn(["matrix"], { arch: [...new Set(ids.map((id) => id.split("-")[0].toUpperCase()))], target: ["DEBUG"] });
  writeFileSync(process.argv[2], doc.toString().replace("dockerfile: dockerfiles/builder", `dockerfile: ${process.cwd()}/dockerfiles/builder`));
' "$VARIANTS" "$work/matrix.yaml"

npm run -s matrix -- --config "$work/matrix.yaml" --only "$VARIANTS" --out "$work/artifacts"
npm run -s release -- keygen --out "$work/publisher"
npm run -s release -- keygen --out "$work/rebuilder"
npm run -s release -- assemble --config "$work/matrix.yaml" --tag v0.0.0-rebuild-proof --commit "$(git rev-parse HEAD)" \
  --out "$work/release" --from "$work/artifacts"
npm run -s release -- sign "$work/release" --key "$work/publisher/release.key"
start=$(date +%s)
npm run -s rebuild -- "$work/release" --trust "$work/publisher/release.pub" --key "$work/rebuilder/release.key" --out "$work/rebuilt"
echo "rebuild-proof: identical; rebuilt in $(( $(date +%s) - start )) s; attestation in $work/rebuilt" >&2
npm run -s release -- verify "$work/release" --trust "$work/publisher/release.pub" \
  --rebuilt-by "$work/rebuilder/release.pub" --rebuilds "$work/rebuilt"
