#!/bin/sh
# GitHub side of `publish`, over the gh CLI (GH_TOKEN from the job):
#   github-release.sh exists TAG             prints exists=true or exists=false (for $GITHUB_OUTPUT)
#   github-release.sh publish TAG DIR KIND   creates release TAG as a draft, uploads every file of
#                                            DIR, then publishes it; refuses a TAG that already
#                                            has a release (a release is never overwritten)
#   github-release.sh download TAG|newest DIR  downloads every asset of release TAG (newest: the
#                                            newest published one) into DIR; prints tag=TAG and
#                                            commit=SHA (the commit its index.json names)
#   github-release.sh attach TAG DIR         uploads every file of DIR (rebuild attestations) to
#                                            release TAG, replacing a file of the same name
# KIND is `nightly` (a prerelease, never marked Latest) or `release` (a pushed tag: GitHub may
# mark it Latest, by its own rule of date and version).
# Everything a release contains was made and verified by `npm run release` before this runs.
set -eu

usage() { echo "usage: $0 exists TAG | publish TAG DIR nightly|release | download TAG|newest DIR | attach TAG DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 tag=$2

case "$cmd" in
  exists)
    [ $# -eq 2 ] || usage
    if gh release view "$tag" >/dev/null 2>&1; then echo "exists=true"; else echo "exists=false"; fi
    ;;
  publish)
    [ $# -eq 4 ] || usage
    dir=$3 kind=$4
    case "$kind" in
      # Set on create and again on publishing: GitHub decides "Latest" when a draft is published.
      nightly) set -- --prerelease --latest=false ;;
      release) set -- ;;
      *) echo "github-release: KIND must be nightly or release, not '$kind'" >&2; exit 2 ;;
    esac
    if gh release view "$tag" >/dev/null 2>&1; then
      echo "github-release: a release $tag exists already; releases are never overwritten (cut a new tag)" >&2
      exit 1
    fi
    notes="edk2-matrix firmware release $tag. Verify: npm run release -- verify <this release's download URL>, or minisign -Vm SHA256SUMS -p keys/trust/<key name>.pub && sha256sum -c SHA256SUMS; provenance of each asset: gh attestation verify <asset> --repo ${GITHUB_REPOSITORY:?} (offline: add --bundle attestation.sigstore.json)"
    gh release create "$tag" --draft "$@" --title "$tag" --notes "$notes" --target "${GITHUB_SHA:?}"
    # One file per argument: names come from the directory listing, never from a shell string.
    find "$dir" -maxdepth 1 -type f -print0 | sort -z | xargs -0 gh release upload "$tag"
    gh release edit "$tag" --draft=false "$@"
    echo "github-release: published $tag ($kind)"
    ;;
  download)
    [ $# -eq 3 ] || usage
    dir=$3
    if [ "$tag" = newest ]; then
      tag=$(gh release list --exclude-drafts --limit 1 --json tagName --jq '.[0].tagName')
      [ -n "$tag" ] || { echo "github-release: no published release to download" >&2; exit 1; }
    fi
    mkdir -p "$dir"
    gh release download "$tag" --dir "$dir"
    echo "tag=$tag"
    # The commit it was built from (the rebuild checks it out); read without running project code.
    if [ -f "$dir/index.json" ]; then
      sed -n 's/^ *"commit": "\([0-9a-f]\{40\}\)",\{0,1\}$/commit=\1/p' "$dir/index.json" | head -n 1
    fi
    ;;
  attach)
    [ $# -eq 3 ] || usage
    find "$3" -maxdepth 1 -type f -print0 | sort -z | xargs -0 gh release upload "$tag" --clobber
    echo "github-release: attached $(find "$3" -maxdepth 1 -type f | wc -l) file(s) to $tag" >&2
    ;;
  *) usage ;;
esac
