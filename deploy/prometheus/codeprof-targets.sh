#!/usr/bin/env bash
# Writes a Prometheus file_sd target list for the ranks of a job: one target per rank, at
# host:(base port + local rank). Usage:
#   codeprof-targets.sh --hosts node1,node2 --ranks-per-host 8 [--base-port 8765] > targets/job.json
set -euo pipefail
hosts="" per_host="" base=8765
while (($#)); do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --ranks-per-host) per_host="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    *) echo "codeprof-targets.sh: unknown option '$1' (expected --hosts, --ranks-per-host, --base-port)" >&2; exit 2 ;;
  esac
done
if [[ -z "$hosts" || ! "$per_host" =~ ^[1-9][0-9]*$ || ! "$base" =~ ^[0-9]+$ ]]; then
  echo "codeprof-targets.sh: expected --hosts H1,H2,... and --ranks-per-host N (a positive integer)" >&2
  exit 2
fi
IFS=, read -ra list <<<"$hosts"
targets=()
for h in "${list[@]}"; do
  for ((r = 0; r < per_host; r++)); do targets+=("\"$h:$((base + r))\""); done
done
printf '[{"targets": [%s], "labels": {"scrape_source": "codeprof-targets.sh"}}]\n' "$(IFS=,; echo "${targets[*]}")"
