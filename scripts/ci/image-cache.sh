#!/bin/sh
# Keeps edk2-matrix's images across CI jobs, which each start with an empty Docker engine:
#   image-cache.sh save DIR   docker save of the builder image(s) and their base into DIR/images.tar
#   image-cache.sh load DIR   docker load from it, if present
# A restored builder image keeps its id, and the id is part of every variant's content key:
# with it, a rerun of an unchanged tag finds every variant in the artifact cache and builds nothing.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 save|load DIR" >&2; exit 2; }
dir=$2
case "$1" in
  save)
    mkdir -p "$dir"
    images=$(docker images --filter label=edk2-matrix.role=builder --format '{{.Repository}}:{{.Tag}}')
    base=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(edk2-matrix/)?debian:' || true)
    [ -n "$images" ] || { echo "image-cache: no builder image to save" >&2; exit 0; }
    # shellcheck disable=SC2086
    docker save -o "$dir/images.tar" $images $base
    echo "image-cache: saved $(echo $images $base | wc -w) image(s) to $dir/images.tar"
    ;;
  load)
    if [ -f "$dir/images.tar" ]; then docker load -i "$dir/images.tar"; else echo "image-cache: nothing cached in $dir"; fi
    ;;
  *) echo "usage: $0 save|load DIR" >&2; exit 2 ;;
esac
