#!/bin/bash
# Entry point of the Label Studio stand-in image. Like the official image it
# runs the given command (default: `label-studio`, i.e. `label-studio start`),
# configured entirely through the environment. Before that it checks that the
# data directory is writable by the current user, because that is the usual
# first-start failure with bind mounts.
set -e

data_dir="${LABEL_STUDIO_BASE_DATA_DIR:-/label-studio/data}"
if [ "${1:-}" = "label-studio" ] || [ "${1:-}" = "label-studio-start" ]; then
  if ! mkdir -p "$data_dir" 2>/dev/null || ! [ -w "$data_dir" ]; then
    echo "docker-entrypoint: $data_dir is not writable by uid $(id -u) gid $(id -g)." >&2
    echo "docker-entrypoint: give it to uid 1001, group 0, group-writable:" >&2
    echo "docker-entrypoint:   chown -R 1001:0 DIR && chmod -R g+rwX DIR   (never chmod 777)" >&2
    exit 1
  fi
fi
if [ "${1:-}" = "label-studio-start" ]; then
  shift
  set -- label-studio start "$@"
fi
exec "$@"
