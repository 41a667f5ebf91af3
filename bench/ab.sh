#!/usr/bin/env bash
# Interleaved A/B of `npm run bench` between an older commit and the working tree:
#   bench/ab.sh <base-commit> [pairs=3] [bench flags…]   e.g. bench/ab.sh eca3f8f 5 --only fanout
# It checks the base out in a worktree (sharing node_modules), then runs one round of every
# metric in each, alternating base and head, so both see the same machine noise.
set -euo pipefail
base=${1:?usage: bench/ab.sh <base-commit> [pairs]}
pairs=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$(mktemp -d /tmp/parley-ab-XXXXXX)
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add --detach "$tree" "$base" >/dev/null
ln -s "$root/node_modules" "$tree/node_modules"
ulimit -n 8192
for i in $(seq 1 "$pairs"); do
  for side in base head; do
    dir=$tree; [ "$side" = head ] && dir=$root
    echo "=== $side $i $(date -u +%T)"
    (cd "$dir" && npx tsx bench/run.ts --rounds 1 --json "$@" | grep -E '^\{|deliveries|durable|latency|memory per')
  done
done
