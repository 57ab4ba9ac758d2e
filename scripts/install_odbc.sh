#!/usr/bin/env bash
# Install what the database source and its tests need: unixODBC, the psqlODBC and
# SQLite ODBC drivers, and PostgreSQL 15 (the tests start their own server).
# Idempotent: installs only what is missing, then checks the drivers are registered.
set -euo pipefail

need=()
dpkg -s unixodbc >/dev/null 2>&1 || need+=(unixodbc)
dpkg -s odbc-postgresql >/dev/null 2>&1 || need+=(odbc-postgresql)
dpkg -s libsqliteodbc >/dev/null 2>&1 || need+=(libsqliteodbc)
dpkg -s postgresql >/dev/null 2>&1 || need+=(postgresql)

if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi

drivers="$(odbcinst -q -d)"
for d in "PostgreSQL Unicode" "SQLite3"; do
  if ! grep -qF "[$d]" <<<"$drivers"; then
    echo "ODBC driver '$d' is not registered (odbcinst -q -d shows: $drivers)" >&2
    exit 1
  fi
done
echo "ODBC drivers ready: PostgreSQL Unicode, SQLite3"
