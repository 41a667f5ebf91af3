#!/usr/bin/env bash
# Interleaved A/B of `npm run bench`, so both sides see the same machine noise:
#   bench/ab.sh <base-commit> [pairs=3] [bench flags…]   e.g. bench/ab.sh eca3f8f 5 --only fanout
#     an older commit (checked out in a worktree sharing node_modules) against the working tree;
#   bench/ab.sh --env KEY=VALUE [pairs=3] [bench flags…] e.g. bench/ab.sh --env PARLEY_METRICS=0 5 --only http
#     the working tree with the relay's KEY=VALUE (base) against the working tree without it (head):
#     what a switch costs, e.g. metrics collection.
# Each pair runs one round of every metric asked for on each side, base first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ulimit -n 8192
if [ "${1:-}" = "--env" ]; then
  env_kv=${2:?usage: bench/ab.sh --env KEY=VALUE [pairs]}
  case "$env_kv" in *=*) ;; *) echo "bench/ab.sh: --env wants KEY=VALUE, got \"$env_kv\"" >&2; exit 2 ;; esac
  shift 2
  tree=$root
  base_flags=(--relay-env "$env_kv")
  base_name="base ($env_kv)"
else
  base=${1:?usage: bench/ab.sh <base-commit> [pairs] | bench/ab.sh --env KEY=VALUE [pairs]}
  shift
  tree=$(mktemp -d /tmp/parley-ab-XXXXXX)
  trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
  git -C "$root" worktree add --detach "$tree" "$base" >/dev/null
  ln -s "$root/node_modules" "$tree/node_modules"
  base_flags=()
  base_name="base"
fi
pairs=${1:-3}
[ $# -gt 0 ] && shift
for i in $(seq 1 "$pairs"); do
  for side in base head; do
    dir=$tree; flags=("${base_flags[@]}"); name=$base_name
    if [ "$side" = head ]; then dir=$root; flags=(); name=head; fi
    echo "=== $name $i $(date -u +%T)"
    (cd "$dir" && npx tsx bench/run.ts --rounds 1 --json "${flags[@]}" "$@" | tee -a "${AB_LOG:-/dev/null}" | grep -E '^\{|deliveries|durable|latency|memory per')
  done
done
