#!/bin/sh
# The app container's command: bring the schema to this code's migration, then serve.
# Arguments are passed on to `jitc serve` after these defaults (a later --port wins).
#
# `jitc db upgrade` runs before the server listens because a schema older than the code is
# refused at start (server/migrate.py). Migrations take no lock against each other: with
# several app servers on one database, upgrade from one of them (docs/operations.md).
set -eu
jitc db upgrade
exec jitc serve --host 0.0.0.0 --port 8000 --workers "${JITC_WORKERS:-2}" "$@"
