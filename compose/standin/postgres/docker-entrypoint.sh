#!/bin/bash
# Entry point of the PostgreSQL stand-in image: the same behaviour as the
# official image's entry point for the variables lstk uses.
#  - first start on an empty PGDATA: initdb with POSTGRES_USER and
#    POSTGRES_PASSWORD, password auth (scram-sha-256) for every TCP client,
#    create POSTGRES_DB, run /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz
#    on a temporary server that listens on the unix socket only;
#  - every start: run `postgres` in the foreground, listening on all addresses.
set -Eeo pipefail

log() { echo "docker-entrypoint: $*" >&2; }

# VAR or VAR_FILE (docker secrets), never both.
file_env() {
  local var="$1" file_var="${1}_FILE" def="${2:-}" val="$2"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    log "both $var and $file_var are set (but are exclusive)"; exit 1
  fi
  if [ -n "${!var:-}" ]; then
    val="${!var}"
  elif [ -n "${!file_var:-}" ]; then
    val="$(< "${!file_var}")"
  fi
  export "$var"="$val"
  unset "$file_var"
}

# `docker run IMAGE -c foo=bar` means `postgres -c foo=bar`
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ]; then
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA" 2>/dev/null || :
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != 'trust' ]; then
      log "Database is uninitialized and superuser password is not specified."
      log "You must specify POSTGRES_PASSWORD to a non-empty value for the superuser."
      exit 1
    fi
    if [ "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
      log "$PGDATA is not empty but holds no database (no PG_VERSION); refusing to initialise it"
      exit 1
    fi
    log "initialising database in $PGDATA"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" \
      --encoding=UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host="$auth" \
      $POSTGRES_INITDB_ARGS >/dev/null
    rm -f "$pwfile"
    {
      echo
      echo "host all all all $auth"
    } >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

    # temporary server on the unix socket only, so nobody connects too early
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start >/dev/null
    psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ "$POSTGRES_DB" != 'postgres' ]; then
      exists="$("${psql[@]}" --dbname postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${POSTGRES_DB//\'/\'\'}'")"
      if [ -z "$exists" ]; then
        "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;' >/dev/null
      fi
    fi
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
        *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >/dev/null ;;
        *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" >/dev/null ;;
        *) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    unset POSTGRES_PASSWORD
    log "PostgreSQL init process complete; ready for start up."
  else
    log "PostgreSQL database directory appears to contain a database; skipping initialization"
  fi
fi

exec "$@"
