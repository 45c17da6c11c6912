#!/usr/bin/env bash
# importgate bench: wall time and peak RSS of `importgate check` on a >500 MB image whose
# site-packages holds real heavy distributions (bench/requirements.txt), from the Docker daemon
# (its export stream and its storage directories), a `docker save` archive and an OCI archive
# with gzip layers; next to `docker save | wc -c` and `gzip -dc` of the OCI layer blobs,
# measured in the same run. See docs/performance.md.
#
#   bench/run.sh                 (or: make bench)
#
# Environment:
#   RUNS=3                       runs per measurement (median wall, max RSS reported)
#   IMPORTGATE_BENCH_CACHE=DIR   cache for the pip tree and archives
#                                (default ${XDG_CACHE_HOME:-$HOME/.cache}/importgate-bench)
#   BENCH_NO_BUILD=1             skip `cargo build --release -p importgate`
#   PYTHON312=PATH               host CPython 3.12 used for `pip install --target`
#                                (default /root/.pyenv/versions/3.12.1/bin/python, else python3.12)
#
# Needs: docker (daemon reachable), python3, GNU time at /usr/bin/time (installed with apt-get
# when missing), network access to PyPI on the first run only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH="$ROOT/bench"
BIN="$ROOT/target/release/importgate"
CACHE="${IMPORTGATE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/importgate-bench}"
RUNS="${RUNS:-3}"
BASE="importgate-test/python:3.12-slim"
IMAGE="importgate-bench/heavy:latest"
MISSING="importgate_bench_missing"
SITE="/usr/local/lib/python3.12/site-packages"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

mkdir -p "$CACHE"

# --- tools ---------------------------------------------------------------------------------
if ! command -v /usr/bin/time >/dev/null 2>&1; then
    log "installing GNU time (Debian package 'time')"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
/usr/bin/time -f ok true >/dev/null 2>&1 || die "/usr/bin/time is not GNU time"
docker info >/dev/null 2>&1 || die "no Docker daemon"

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    log "cargo build --release -p importgate -p importgate-bench"
    cargo build --release -p importgate -p importgate-bench >&2
fi
[[ -x "$BIN" ]] || die "$BIN missing"
REF="$ROOT/target/release/importgate-bench-ref"
[[ -x "$REF" ]] || die "$REF missing"

# --- images --------------------------------------------------------------------------------
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    log "building base image $BASE"
    python3 tests/support/mkbase.py --layout slim --python 3.12 >&2
fi

# Key of the bench image: requirements + app + base image id.
KEY="$(cat "$BENCH/requirements.txt" "$BENCH/app/main.py" "$BENCH/app/Dockerfile" \
        <(docker image inspect -f '{{.Id}}' "$BASE") | sha256sum | cut -c1-16)"
REQKEY="$(sha256sum <"$BENCH/requirements.txt" | cut -c1-16)"

TREE="$CACHE/site-packages-$REQKEY"
if [[ ! -f "$TREE/.complete" ]]; then
    PY="${PYTHON312:-/root/.pyenv/versions/3.12.1/bin/python}"
    [[ -x "$PY" ]] || PY="$(command -v python3.12)" || die "no host CPython 3.12 for pip"
    log "pip install --target $TREE (from PyPI)"
    rm -rf "$TREE.tmp"
    "$PY" -m pip install -q --disable-pip-version-check --target "$TREE.tmp" \
        -r "$BENCH/requirements.txt" >&2
    touch "$TREE.tmp/.complete"
    mv "$TREE.tmp" "$TREE"
fi

if [[ "$(docker image inspect -f '{{index .Config.Labels "importgate.bench.key"}}' "$IMAGE" 2>/dev/null || true)" != "$KEY" ]]; then
    log "building $IMAGE"
    CTX="$CACHE/context"
    rm -rf "$CTX" && mkdir -p "$CTX"
    cp "$BENCH/app/Dockerfile" "$BENCH/app/main.py" "$CTX/"
    mkdir -p "$CTX/native-libs"
    for lib in libstdc++.so.6 libgcc_s.so.1 libgomp.so.1 libpthread.so.0 libdl.so.2 librt.so.1; do
        cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$CTX/native-libs/$lib"
    done
    cp -al "$TREE" "$CTX/site-packages" 2>/dev/null || cp -a "$TREE" "$CTX/site-packages"
    rm -f "$CTX/site-packages/.complete"
    DOCKER_BUILDKIT=0 docker build -q --label "importgate.bench.key=$KEY" -t "$IMAGE" "$CTX" >&2
    rm -rf "$CTX"
fi
# The same image with only the application layer changed, for the warm re-check.
IMAGE2="importgate-bench/heavy:app-changed"
if [[ "$(docker image inspect -f '{{index .Config.Labels "importgate.bench.key"}}' "$IMAGE2" 2>/dev/null || true)" != "$KEY" ]]; then
    log "building $IMAGE2"
    CTX2="$CACHE/context2"
    rm -rf "$CTX2" && mkdir -p "$CTX2"
    { echo "FROM $IMAGE"; echo "COPY main.py /app/main.py"; } >"$CTX2/Dockerfile"
    { cat "$BENCH/app/main.py"; echo "# changed"; } >"$CTX2/main.py"
    DOCKER_BUILDKIT=0 docker build -q --label "importgate.bench.key=$KEY" -t "$IMAGE2" "$CTX2" >&2
    rm -rf "$CTX2"
fi
IMAGE_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
IMAGE_SIZE="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
IDKEY="${IMAGE_ID#sha256:}"; IDKEY="${IDKEY:0:16}"

DARCH="$CACHE/bench-$IDKEY.docker.tar"
OARCH="$CACHE/bench-$IDKEY.oci.tar"
if [[ ! -f "$DARCH" ]]; then
    log "docker save -> $DARCH"
    rm -f "$CACHE"/bench-*.docker.tar "$CACHE"/bench-*.oci.tar
    docker save -o "$DARCH.tmp" "$IMAGE" && mv "$DARCH.tmp" "$DARCH"
fi
if [[ ! -f "$OARCH" ]]; then
    log "save2oci -> $OARCH (gzip layers)"
    python3 tests/support/save2oci.py "$DARCH" "$OARCH.tmp" --ref "$IMAGE" >&2
    mv "$OARCH.tmp" "$OARCH"
fi
OARCH2="$CACHE/bench-$IDKEY-app-changed.oci.tar"
if [[ ! -f "$OARCH2" ]]; then
    log "docker save + save2oci -> $OARCH2"
    docker save -o "$CACHE/app-changed.docker.tar" "$IMAGE2"
    python3 tests/support/save2oci.py "$CACHE/app-changed.docker.tar" "$OARCH2.tmp" --ref "$IMAGE2" >&2
    rm -f "$CACHE/app-changed.docker.tar"
    mv "$OARCH2.tmp" "$OARCH2"
fi

# Layer blobs of the OCI archive, extracted once for `gzip -dc`.
BLOBS="$CACHE/oci-$IDKEY"
if [[ ! -f "$BLOBS/.complete" ]]; then
    rm -rf "$CACHE"/oci-* && mkdir -p "$BLOBS"
    tar -xf "$OARCH" -C "$BLOBS"
    touch "$BLOBS/.complete"
fi
mapfile -t LAYERS < <(python3 - "$BLOBS" <<'PY'
import json, os, sys
root = sys.argv[1]
def blob(d): return os.path.join(root, "blobs", *d["digest"].split(":"))
idx = json.load(open(os.path.join(root, "index.json")))
man = json.load(open(blob(idx["manifests"][0])))
for l in man["layers"]:
    print(blob(l))
PY
)
GZ_BYTES=0; for l in "${LAYERS[@]}"; do GZ_BYTES=$((GZ_BYTES + $(stat -c %s "$l"))); done

SUMMARY="$(python3 "$BENCH/captured.py" "$DARCH")"
eval "$SUMMARY"   # files= bytes= captured_files= captured_bytes=

# --- measurements ----------------------------------------------------------------------------
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# Warm the page cache so every row reads from memory, not disk.
cat "$DARCH" "$OARCH" "${LAYERS[@]}" >/dev/null

# dockerd's CPU time (user+sys, in seconds) when it is visible in this PID namespace, else "-".
DOCKERD_PID="$(pidof dockerd 2>/dev/null | awk '{print $1}' || true)"
HZ="$(getconf CLK_TCK)"
dockerd_ticks() {
    if [[ -n "$DOCKERD_PID" && -r "/proc/$DOCKERD_PID/stat" ]]; then
        awk '{print $14 + $15}' "/proc/$DOCKERD_PID/stat"
    else
        echo -
    fi
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { sort -g | tail -1; }

# measure NAME CMD... : RUNS runs under GNU time; records wall, user, sys, rss (KiB) per run.
# One run of a measurement, appended to its times.
measure_once() {
    local name="$1"; shift
    local rc=0 d0 d1 dcpu
    d0="$(dockerd_ticks)"
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/$name.t" "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr" || rc=$?
    d1="$(dockerd_ticks)"
    if [[ "$d0" == - || "$d1" == - ]]; then dcpu=-; else dcpu="$(awk -v a="$d0" -v b="$d1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')"; fi
    echo "$(tail -1 "$OUT/$name.t") $dcpu" >>"$OUT/$name.times"
    echo "$rc" >"$OUT/$name.rc"
    log "$name run $(wc -l <"$OUT/$name.times"): $(tail -1 "$OUT/$name.times") (wall s, user s, sys s, maxrss KiB, dockerd cpu s) exit $rc"
}

measure() {
    local name="$1"; shift
    local i
    : >"$OUT/$name.times"
    for ((i = 1; i <= RUNS; i++)); do
        measure_once "$name" "$@"
    done
}

col() { awk -v c="$2" '{print $c}' "$OUT/$1.times"; }

# importgate must report exactly the expected verdict: exit 1, a finding for $MISSING.
verify() {
    local name="$1" rc
    rc="$(cat "$OUT/$name.rc")"
    [[ "$rc" == 1 ]] || { cat "$OUT/$name.stderr" >&2; die "$name: exit $rc, expected 1"; }
    python3 - "$OUT/$name.stdout" "$MISSING" <<'PY' || die "$name: unexpected findings"
import json, sys
report = json.load(open(sys.argv[1]))
errors = [f for f in report["findings"] if f["severity"] == "error"]
mods = sorted({f.get("module") for f in errors})
if mods != [sys.argv[2]]:
    sys.exit("errors for modules %s, expected only %s" % (mods, sys.argv[2]))
PY
}

LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
log "importgate check, $RUNS runs each"
measure storage        "$BIN" check --format json --no-cache --source-mode storage "docker-daemon:$IMAGE"
# Each archive's check and the reference it is compared with (one core hashing the docker-save
# archive, one core inflating the OCI blobs) take turns, run by run, so that a ratio compares
# the same minutes of the machine.
log "importgate check of the archives and their references, $RUNS runs each, in turn"
for n in docker-archive hash oci-archive inflate; do : >"$OUT/$n.times"; done
for ((i = 1; i <= RUNS; i++)); do
    measure_once docker-archive "$BIN" check --format json --no-cache "docker-archive:$DARCH"
    measure_once hash           "$REF" hash "$DARCH"
    measure_once oci-archive    "$BIN" check --format json --no-cache "oci-archive:$OARCH"
    measure_once inflate        "$REF" inflate "${LAYERS[@]}"
done
# Warm: the layer cache holds the first image's layers; the app-changed image shares all but
# its last layer, whose entry is removed before each run so that every run reads it afresh.
LCACHE="$OUT/layer-cache"
"$BIN" check --format json --cache-dir "$LCACHE" "oci-archive:$OARCH" >/dev/null 2>&1 || true
APP_BLOB="$(python3 - "$OARCH2" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
def member(d): return json.load(t.extractfile("blobs/" + d.replace(":", "/")))
idx = json.load(t.extractfile("index.json"))
print(member(idx["manifests"][0]["digest"])["layers"][-1]["digest"].split(":")[1])
PY
)"
measure oci-warm bash -c 'rm -f "$1"/layers/*/"$2".layer; exec "$3" check --format json --no-result-cache --cache-dir "$1" "oci-archive:$4"' _ \
    "$LCACHE" "$APP_BLOB" "$BIN" "$OARCH2"
measure oci-hot        "$BIN" check --format json --no-result-cache --cache-dir "$LCACHE" "oci-archive:$OARCH"
measure oci-stored     "$BIN" check --format json --cache-dir "$LCACHE" "oci-archive:$OARCH"
# The engine's storage and its export: prime with the first image through each (the storage's
# directory indexes, the export's layer indexes and the v1 ids that name them, parsed modules),
# then check the app-changed one.
"$BIN" check --format json --cache-dir "$LCACHE" --source-mode storage "docker-daemon:$IMAGE" >/dev/null 2>&1 || true
"$BIN" check --format json --cache-dir "$LCACHE" --source-mode export "docker-daemon:$IMAGE" >/dev/null 2>&1 || true
measure storage-warm   "$BIN" check --format json --no-result-cache --cache-dir "$LCACHE" --source-mode storage "docker-daemon:$IMAGE2"
# The export's rows and the bare stream they are compared with take turns, run by run: the
# engine's stream varies by a tenth of its time from one minute to the next, and measured one
# after the other the rows would compare different minutes.
log "importgate check from the export and docker save | wc -c, $RUNS runs each, in turn"
: >"$OUT/daemon.times"; : >"$OUT/daemon-warm.times"; : >"$OUT/docker-save.times"; : >"$OUT/save.bytes"
for ((i = 1; i <= RUNS; i++)); do
    measure_once daemon      "$BIN" check --format json --no-cache --source-mode export "docker-daemon:$IMAGE"
    measure_once daemon-warm "$BIN" check --format json --no-result-cache --cache-dir "$LCACHE" --source-mode export "docker-daemon:$IMAGE2"
    measure_once docker-save bash -c "docker save '$IMAGE' | wc -c >>'$OUT/save.bytes'"
done
for s in daemon storage docker-archive oci-archive oci-warm oci-hot oci-stored storage-warm daemon-warm; do verify "$s"; done
ERR_LINE="$(python3 - "$OUT/oci-archive.stdout" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = [f for f in r["findings"] if f["severity"] == "error"][0]
print("%s %s %s:%s" % (f["code"], f["module"], f.get("file"), f.get("line")))
PY
)"

SAVE_BYTES="$(tail -1 "$OUT/save.bytes")"

log "gzip -dc over the ${#LAYERS[@]} OCI layer blobs, $RUNS runs"
measure gunzip bash -c 'gzip -dc "$@" | wc -c' _ "${LAYERS[@]}"
GUNZIP_BYTES="$(tail -1 "$OUT/gunzip.stdout")"

# --- report ----------------------------------------------------------------------------------
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
row() { # name label
    local w u s r d
    w="$(col "$1" 1 | median)"; u="$(col "$1" 2 | median)"; s="$(col "$1" 3 | median)"
    r="$(col "$1" 4 | maxof)"; d="$(col "$1" 5 | grep -v -- - | median)"
    printf '| %-38s | %8.2f | %6.2f | %6.2f | %8.1f | %11s |\n' "$2" "$w" "$u" "$s" \
        "$(awk -v k="$r" 'BEGIN{print k/1024}')" "${d:--}"
}
wall() { col "$1" 1 | median; }
ratio() { awk -v a="$(wall "$1")" -v b="$(wall "$2")" 'BEGIN {printf "%.2fx", a / b}'; }

echo
echo "importgate bench  $(date -u +%Y-%m-%dT%H:%MZ)  $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "binary: $BIN ($(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo '+dirty tree'))"
echo "image:  $IMAGE  $IMAGE_ID"
echo "        docker image inspect Size $(mb "$IMAGE_SIZE") MB; ${#LAYERS[@]} layers"
echo "        merged fs: $files files, $(mb "$bytes") MB; captured by importgate's policy: $captured_files files, $(mb "$captured_bytes") MB"
echo "        docker save stream $(mb "$SAVE_BYTES") MB; OCI gzip blobs $(mb "$GZ_BYTES") MB -> $(mb "$GUNZIP_BYTES") MB"
echo "verdict: exit 1, error $ERR_LINE (all three sources)"
echo "runs: $RUNS each; wall/user/sys/dockerd CPU are medians, RSS is the max; load average at start: $LOAD0"
echo
printf '| %-38s | %8s | %6s | %6s | %8s | %11s |\n' "measurement" "wall s" "user s" "sys s" "RSS MiB" "dockerd s"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..40})" "----------" "--------" "--------" "----------" "-------------"
row daemon         "importgate check docker-daemon: (export)"
row storage        "importgate check docker-daemon: (storage)"
row docker-archive "importgate check docker-archive:"
row oci-archive    "importgate check oci-archive: (gzip)"
row oci-warm       "  same, app layer changed, rest cached"
row oci-hot        "  same, unchanged, every layer cached"
row oci-stored     "  same, unchanged, stored report"
row storage-warm   "storage, app layer changed, parses cached"
row daemon-warm    "export, app layer changed, rest cached"
row docker-save    "docker save IMAGE | wc -c"
row gunzip         "gzip -dc of OCI layer blobs"
row inflate        "zlib-rs inflate of OCI layer blobs"
row hash           "sha256 of the docker-save archive"
echo
echo "ratio: importgate oci-archive / gzip -dc of layers = $(ratio oci-archive gunzip)"
echo "ratio: importgate oci-archive (cold) / zlib-rs inflate of layers = $(ratio oci-archive inflate)   (target <= 1.25x)"
echo "ratio: importgate docker-archive (cold) / sha256 of the archive = $(ratio docker-archive hash)   (target <= 1.25x)"
echo "warm re-check, app layer changed (oci-archive): $(wall oci-warm) s   (target <= 0.3 s)"
echo "warm re-check, app layer changed (engine's storage): $(wall storage-warm) s   (target <= 0.3 s)"
echo "warm re-check, app layer changed (export) beyond docker save | wc -c: $(awk -v a="$(wall daemon-warm)" -v b="$(wall docker-save)" 'BEGIN {printf "%.2f", a - b}') s   (target <= 0.3 s)"
echo "ratio: importgate daemon (export, cold) / docker save | wc -c = $(ratio daemon docker-save)   (target <= 1.1x)"
echo "ratio: importgate daemon / importgate docker-archive = $(ratio daemon docker-archive)"
echo "ratio: importgate daemon from the storage / from the export = $(ratio storage daemon)"
echo "(user/sys/RSS are importgate's (or the shell pipeline's) own; dockerd s is the daemon's CPU during the row)"
