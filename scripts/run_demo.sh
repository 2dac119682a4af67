#!/usr/bin/env bash
# The main job: builds codeprof and runs the demo ML pipeline (an SEO page scorer on libtorch)
# under the profiler, with the live dashboard during the run, then prints the bottlenecks,
# classification and recommendations and writes the reports (JSON, Chrome trace, HTML, CSV,
# Prometheus, pprof, folded stacks) and the pipeline's metrics and predictions to codeprof_output/. Installs what is missing first; safe to re-run.
#
#   bash scripts/run_demo.sh                  # default pipeline
#   bash scripts/run_demo.sh --plant slow-tokenizer,no-workers   # planted problems
#   bash scripts/run_demo.sh --help           # every flag of the demo
#
# From a terminal the dashboard stays up after the run until Ctrl-C; otherwise the script ends
# with the run. --port P picks the dashboard port (default 8765), --output DIR the report directory.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --with-torch
cmake --preset release >/dev/null
cmake --build --preset release --target seo_pipeline codeprof_cli

demo=build/release/examples/seo_pipeline
for arg in "$@"; do
  case "$arg" in -h|--help|--generate-only) exec "$demo" "$@" ;; esac
done

if [[ -t 0 ]]; then
  exec "$demo" --serve "$@"
fi

# Not a terminal: keep the dashboard for the run only, then stop the program once it says the
# run finished (its reports are written by then).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$demo" --serve "$@" 2> >(tee "$log" >&2) &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  if grep -q "run finished; the dashboard stays up" "$log"; then
    kill -TERM "$pid" 2>/dev/null || true
    echo "not a terminal: the dashboard stopped with the run (run from a terminal to keep it up)" >&2
    break
  fi
  sleep 0.5
done
wait "$pid"
