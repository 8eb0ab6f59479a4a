#!/bin/sh
# Like the MinIO image: anything that is not `minio` is an argument to minio.
set -e
if [ "$1" != "minio" ] && [ -n "$1" ]; then
  set -- minio "$@"
fi
exec "$@"
