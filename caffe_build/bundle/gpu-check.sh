#!/usr/bin/env bash
# Check this Caffe bundle on a GPU, in one command, writing a summary and every log to OUT:
#
#   ./gpu-check.sh [--gpu N] [--tolerance POINTS] [--time-iters N] [--cpu] OUT
#
# 1. caffe device_query;
# 2. caffe time of the paper's CaffeNet at batch 256: forward, backward, images per second;
# 3. baseA (Fashion-MNIST split 0) and the frozen transfer A3B trained on the GPU and, as the
#    reference, on the CPU by the same binary: the frozen layers must stay bit-identical to the
#    init and the GPU's accuracy must be within POINTS (default 5) of the CPU's;
# 4. the deterministic resume: baseA stopped halfway and resumed on the GPU must end with the
#    uninterrupted run's weights, bit for bit; where not, the difference is printed with that
#    of two uninterrupted GPU runs, which shows whether the GPU itself repeats.
# The CUDA driver, runtime, cuBLAS and cuRAND come from the host: LD_LIBRARY_PATH, CUDA_HOME, a
# CUDA toolkit in /usr/local, the loader's cache, or NVIDIA's pip wheels (nvidia-cublas,
# nvidia-curand) of the host's Python (PYTHON, python3; its venv or conda environment).
# --cpu runs every step on the CPU instead (device_query left out, CaffeNet timed at batch 8):
# the script's own check where no GPU is.
# Exit status: 0 every check passed; 1 a check failed; 2 it cannot run (what to do is said);
# 3 no NVIDIA GPU here.
set -uo pipefail

BUNDLE=$(cd "$(dirname "$0")" && pwd)
CAFFE=$BUNDLE/bin/caffe
usage="usage: gpu-check.sh [--gpu N] [--tolerance POINTS] [--time-iters N] [--cpu] OUT"
fail() { echo "gpu-check: $*" >&2; exit 2; }

# 5 points: between the CPU's seed-to-seed range and its rounding-only spread (BENCHMARKS.md)
GPU=0; TOLERANCE=5; TIME_ITERS=10; CPU_ONLY=; OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) GPU=${2:-}; shift;;
    --tolerance) TOLERANCE=${2:-}; shift;;
    --time-iters) TIME_ITERS=${2:-}; shift;;
    --cpu) CPU_ONLY=1;;
    -h|--help) echo "$usage"; exit 0;;
    -*) fail "unknown option $1 ($usage)";;
    *) [ -z "$OUT" ] || fail "one OUT folder, not '$OUT' and '$1' ($usage)"; OUT=$1;;
  esac
  shift
done
[ -n "$OUT" ] || fail "name the folder for the summary and logs ($usage)"
[[ $GPU =~ ^[0-9]+$ ]] || fail "--gpu takes a device number, not '$GPU'"
[[ $TIME_ITERS =~ ^[1-9][0-9]*$ ]] || fail "--time-iters takes a positive integer, not '$TIME_ITERS'"
[[ $TOLERANCE =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "--tolerance takes accuracy points (e.g. 3), not '$TOLERANCE'"
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
  fail "$OUT is not empty: name a new folder, so that no log of another check mixes in"
fi

# --- a GPU, the driver and the CUDA libraries ---------------------------------------------------
count_gpus() {
  local n=0 m=0
  if command -v nvidia-smi >/dev/null 2>&1; then n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true); fi
  if [ -d /proc/driver/nvidia/gpus ]; then m=$(find /proc/driver/nvidia/gpus -mindepth 1 -maxdepth 1 | wc -l); fi
  echo $(( n > m ? n : m ))
}
if [ -z "$CPU_ONLY" ]; then
  gpus=$(count_gpus)
  if [ "$gpus" -eq 0 ]; then
    echo "gpu-check: no NVIDIA GPU on this machine (nvidia-smi lists none, no /proc/driver/nvidia/gpus): run it on a GPU node (--cpu checks the bundle on the CPU)"
    exit 3
  fi
  [ "$GPU" -lt "$gpus" ] || fail "--gpu $GPU: this machine has $gpus GPU(s), numbered from 0"
fi

python_dirs() {  # the lib folders of NVIDIA's wheels in the host's Pythons
  local py
  for py in ${PYTHON:-} python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" - 2>/dev/null <<'EOF'
import glob, os, site, sys
roots = list(getattr(site, "getsitepackages", lambda: [])()) + [site.getusersitepackages()]
for root in roots + [p for p in sys.path if p.endswith("-packages")]:
    for d in sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib"))):
        print(d)
EOF
  done
}
search_dirs() {
  local d
  tr ':' '\n' <<<"${LD_LIBRARY_PATH:-}"
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda $(ls -d /usr/local/cuda-* 2>/dev/null | sort -rV); do
    [ -n "$d" ] && echo "$d/lib64" && echo "$d/targets/x86_64-linux/lib"
  done
  for d in "${VIRTUAL_ENV:-}" "${CONDA_PREFIX:-}"; do
    [ -n "$d" ] && ls -d "$d"/lib/python3*/site-packages/nvidia/*/lib 2>/dev/null
  done
  python_dirs
  echo /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib | tr ' ' '\n'
}
find_lib() {  # the folder holding $1, first found; else the loader cache's
  local d
  while read -r d; do
    [ -n "$d" ] && [ -e "$d/$1" ] && { echo "$d"; return 0; }
  done < <(search_dirs)
  d=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n {print $NF; exit}')
  [ -n "$d" ] && dirname "$d"
}
need=$(cat "$BUNDLE/lib/HOST_LIBS.txt" 2>/dev/null)
[ -z "$CPU_ONLY" ] && need="libcuda.so.1 $need"
found_dirs=; missing=; LIBS_LINE=
for lib in $need; do
  d=$(find_lib "$lib")
  if [ -z "$d" ]; then missing="$missing $lib"; continue; fi
  LIBS_LINE="$LIBS_LINE $lib:$d"
  case ":$found_dirs:" in *":$d:"*) ;; *) found_dirs="${found_dirs:+$found_dirs:}$d";; esac
done
if [ -n "$missing" ]; then
  fail "missing on this machine:$missing; install NVIDIA's driver (libcuda) and CUDA 13's cuBLAS and cuRAND (pip install nvidia-cublas nvidia-curand, or a CUDA 13 toolkit), or add their lib folder to LD_LIBRARY_PATH"
fi
export LD_LIBRARY_PATH="${found_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unresolved=$(ldd "$CAFFE" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' ')
[ -z "$unresolved" ] || fail "bin/caffe cannot load ${unresolved% }: the bundle is incomplete or broken; unpack it again"

mkdir -p "$OUT" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} GLOG_minloglevel=0 GLOG_logtostderr=1
FAILED=0
line() { printf '%-12s %s\n' "$1" "$2" | tee -a "$SUMMARY"; }
bad() { FAILED=$((FAILED + 1)); line "$1" "FAIL: $2"; }
last_error() { grep -E '^[EF][0-9]{4}|Check failed|error' "$1" | tail -n1 | cut -c1-200; }
if [ -n "$CPU_ONLY" ]; then DEVICE=(); MODE="CPU (--cpu)"; else DEVICE=(-gpu "$GPU"); MODE="GPU $GPU"; fi

line "bundle" "$BUNDLE ($(sed -n 's/^build: //p' "$BUNDLE/BUILD.txt" 2>/dev/null | cut -c1-160))"
line "machine" "$(hostname -s), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, checked on $MODE"
line "libraries" "${LIBS_LINE# }"

# --- 1. device_query ----------------------------------------------------------------------------
if [ -z "$CPU_ONLY" ]; then
  if "$CAFFE" device_query "${DEVICE[@]}" > "$OUT/device_query.log" 2>&1; then
    field() { sed -n "s/.*$1: *//p" "$OUT/device_query.log" | head -n1; }
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader -i "$GPU" 2>/dev/null | head -n1)
    memory=$(field 'Total global memory' | awk '{printf "%d MiB", $1 / 1048576}')
    line "device" "$(field Name), compute $(field 'Major revision number').$(field 'Minor revision number'), ${memory:-memory unknown}, driver ${driver:-unknown}"
  else
    bad "device" "caffe device_query failed: $(last_error "$OUT/device_query.log") (device_query.log)"
  fi
fi

# --- 2. caffe time of CaffeNet ------------------------------------------------------------------
if [ -n "$CPU_ONLY" ]; then BATCH=8; else BATCH=256; fi
if "$CAFFE" time -model "$BUNDLE/nets/caffenet/time-b$BATCH.prototxt" "${DEVICE[@]}" \
     -iterations "$TIME_ITERS" > "$OUT/time.log" 2>&1; then
  avg() { sed -n "s/.*Average $1: \([0-9.]*\) ms.*/\1/p" "$OUT/time.log" | tail -n1; }
  fwd=$(avg 'Forward pass'); bwd=$(avg 'Backward pass'); fb=$(avg 'Forward-Backward')
  line "caffe time" "CaffeNet, batch $BATCH, $TIME_ITERS iterations: forward $fwd ms, backward $bwd ms, forward-backward $fb ms, $(awk -v b="$BATCH" -v t="$fb" 'BEGIN {printf "%.0f", b * 1000 / t}') images/s"
else
  bad "caffe time" "$(last_error "$OUT/time.log") (time.log)"
fi

# --- 3. training: baseA and the frozen transfer A3B, on the device and on the CPU ----------------
# run_net NET FOLDER SOLVER [caffe train flags...]: a run folder as the project makes them
run_net() {
  local net=$1 folder=$2 solver=$3 link target start
  shift 3
  mkdir -p "$folder"
  cp "$BUNDLE/nets/$net/train_val.prototxt" "$BUNDLE/nets/$net/$solver" "$folder/"
  while read -r link target; do ln -sfn "$BUNDLE/$target" "$folder/$link"; done < "$BUNDLE/nets/$net/data.txt"
  start=$(date +%s.%N)
  (cd "$folder" && "$CAFFE" train -solver "$solver" "$@" >> train.log 2>&1)
  local rc=$?
  echo "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')" > "$folder/wall_s"
  return $rc
}
final_model() { ls "$1"/snapshot_iter_*.caffemodel 2>/dev/null | sort -V | tail -n1; }
accuracy() { sed -n 's/.*Test net output #[0-9]*: accuracy = \([0-9.e+-]*\).*/\1/p' "$1/train.log" | tail -n1; }
weights() { "${PYTHON:-python3}" "$BUNDLE/check/weights.py" "$@"; }
command -v "${PYTHON:-python3}" >/dev/null || fail "no python3 (or PYTHON) for the weight checks"

train_pair() {  # train_pair WHERE DEVICE_FLAGS...: baseA then A3B into OUT/WHERE; 0 when both ran
  local where=$1 frozen
  shift
  frozen=$(cat "$BUNDLE/nets/A3B/frozen.txt")
  run_net baseA "$OUT/$where/baseA" solver.prototxt "$@" \
    || { bad "$where baseA" "caffe train failed: $(last_error "$OUT/$where/baseA/train.log")"; return 1; }
  mkdir -p "$OUT/$where/A3B"
  # shellcheck disable=SC2086  # the layer names are words
  weights transplant "$(final_model "$OUT/$where/baseA")" "$OUT/$where/A3B/init.caffemodel" $frozen \
    > "$OUT/$where/A3B/transplant.log" 2>&1 \
    || { bad "$where A3B" "transplant failed: $(tail -n1 "$OUT/$where/A3B/transplant.log")"; return 1; }
  run_net A3B "$OUT/$where/A3B" solver.prototxt -weights init.caffemodel "$@" \
    || { bad "$where A3B" "caffe train failed: $(last_error "$OUT/$where/A3B/train.log")"; return 1; }
}
frozen_check() {  # frozen_check WHERE: A3B's frozen layers against its init
  local where=$1
  # shellcheck disable=SC2046
  if weights compare "$OUT/$where/A3B/init.caffemodel" "$(final_model "$OUT/$where/A3B")" \
       $(cat "$BUNDLE/nets/A3B/frozen.txt") > "$OUT/$where/A3B/frozen.txt"; then
    line "frozen" "$where A3B: $(echo $(cat "$BUNDLE/nets/A3B/frozen.txt")) bit-identical to the init after $(basename "$(final_model "$OUT/$where/A3B")" .caffemodel | sed 's/snapshot_iter_//') iterations: PASS"
  else
    bad "frozen" "$where A3B's frozen layers changed: $(echo $(cat "$OUT/$where/A3B/frozen.txt"))"
  fi
}
points() { awk -v a="$1" 'BEGIN {printf "%.2f", 100 * a}'; }

if [ -n "$CPU_ONLY" ]; then WHERE=device-cpu; else WHERE=gpu; fi
train_pair "$WHERE" "${DEVICE[@]}" && gpu_ok=1 || gpu_ok=
train_pair cpu && cpu_ok=1 || cpu_ok=
[ -z "$gpu_ok" ] || frozen_check "$WHERE"
[ -z "$cpu_ok" ] || frozen_check cpu
if [ -n "$gpu_ok" ] && [ -n "$cpu_ok" ]; then
  for net in baseA A3B; do
    a=$(accuracy "$OUT/$WHERE/$net"); c=$(accuracy "$OUT/cpu/$net")
    if [ -z "$a" ] || [ -z "$c" ]; then bad "accuracy" "$net: no test accuracy in its train.log"; continue; fi
    verdict=$(awk -v a="$a" -v c="$c" -v t="$TOLERANCE" 'BEGIN {d = 100 * (a - c); if (d < 0) d = -d; printf "%.2f %s", d, (d <= t ? "PASS" : "FAIL")}')
    text="$net: $MODE $(points "$a")% in $(cat "$OUT/$WHERE/$net/wall_s") s, CPU $(points "$c")% in $(cat "$OUT/cpu/$net/wall_s") s; |difference| ${verdict% *} points, tolerance $TOLERANCE"
    if [ "${verdict#* }" = PASS ]; then line "accuracy" "$text: PASS"; else bad "accuracy" "$text"; fi
  done
fi

# --- 4. the deterministic resume on the device ----------------------------------------------------
if [ -n "$gpu_ok" ]; then
  R=$OUT/$WHERE/baseA-resumed
  if run_net baseA "$R" solver-stop.prototxt "${DEVICE[@]}"; then
    state=$(ls "$R"/snapshot_iter_*.solverstate 2>/dev/null | sort -V | tail -n1)
    stop=$(basename "$state" .solverstate | sed 's/snapshot_iter_//')
    echo "# resumed at iteration $stop" >> "$R/train.log"
    # read by the project's deterministic-resume patch: the data and draws of iteration $stop on
    if (export CAFFE_RESUME_ITER=$stop
        run_net baseA "$R" solver.prototxt -snapshot "$(basename "$state")" "${DEVICE[@]}"); then
      if weights compare "$(final_model "$OUT/$WHERE/baseA")" "$(final_model "$R")" > "$R/compare.txt"; then
        line "resume" "baseA stopped at iteration $stop and resumed: weights bit-identical to the uninterrupted run's: PASS"
      else
        # is it the resume, or does the device not repeat itself? an uninterrupted run again
        A=$OUT/$WHERE/baseA-again
        run_net baseA "$A" solver.prototxt "${DEVICE[@]}"
        weights compare "$(final_model "$OUT/$WHERE/baseA")" "$(final_model "$A")" > "$A/compare.txt"
        if grep -qv 'bit-identical' "$A/compare.txt"; then
          line "resume" "EXPLAINED: resumed weights differ ($(grep -v bit-identical "$R/compare.txt" | head -n3 | tr '\n' ' ')) but so do two uninterrupted runs ($(grep -v bit-identical "$A/compare.txt" | head -n3 | tr '\n' ' ')): the device does not repeat itself (see compare.txt files)"
        else
          bad "resume" "resumed at $stop, weights differ from the uninterrupted run's while two uninterrupted runs agree: $(grep -v bit-identical "$R/compare.txt" | head -n3 | tr '\n' ' ')"
        fi
      fi
    else
      bad "resume" "the resumed run failed: $(last_error "$R/train.log")"
    fi
  else
    bad "resume" "the run to stop halfway failed: $(last_error "$R/train.log")"
  fi
fi

if [ "$FAILED" -eq 0 ]; then line "result" "PASS (logs in $OUT)"; exit 0; fi
line "result" "FAIL: $FAILED check(s) failed (logs in $OUT)"
exit 1
