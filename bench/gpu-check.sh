#!/usr/bin/env bash
# The GPU check: run on a machine with a GPU (after `npm ci`, which builds dist/; Debian's chromium installed).
# Prints the GPU, then for gpu.js's webgpu and webgl2 modes in headless Chromium with hardware flags: the adapter
# or renderer, the conformance suite and the whole-step gradient property (against the float64 tape), and
# samples/s of fmnist-small and of the paper's fashion-mnist network at batch 16 and 128; then Node's
# gpujs:webgpu (the `webgpu` package) where it loads, beside the CPU backend. Stops after 8 minutes at most.
# Usage: bench/gpu-check.sh [OUT.json]   (default gpu-check.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-check.json}"
if [ ! -f dist/cli/plif.js ] || [ ! -f dist/web/bench.html ]; then echo "dist/ is not built: run npm ci (or npm run build) first" >&2; exit 2; fi
timeout --signal=INT 470 node bench/gpu-check.mjs "$out"
