#!/usr/bin/env bash
# Renders the board's document of a plan and year with headless Chromium: the HTML as the
# service serves it, an A4 PDF, and a PNG of the first page. Serves the seeded database on a
# port of its own for the duration. Installs Debian's chromium when it is missing.
#
#   scripts/render-board.sh [PLAN_ID] [YEAR]    (default: the seeded Genomförandeplan 2024, 2024)
#   OUT_DIR (default target/board), BOARD_PORT (default 8097), PNG (a path to copy the PNG to)
set -euo pipefail

cd "$(dirname "$0")/.."
plan="${1:-}"
year="${2:-2024}"
out="${OUT_DIR:-target/board}"
port="${BOARD_PORT:-8097}"

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium_bin" ]; then
    echo "render-board: installing Debian's chromium" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
    chromium_bin="$(command -v chromium)"
fi

./target/debug/kulturplan migrate >/dev/null
./target/debug/kulturplan seed >/dev/null
mkdir -p "$out"
BIND_ADDR="127.0.0.1:$port" ./target/debug/kulturplan serve >"$out/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
token="$(./target/debug/kulturplan token --scope read --ttl 10m --subject render-board)"
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
done

if [ -z "$plan" ]; then
    plan="$(curl -fsS -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port/api/v1/plans?limit=500" |
        python3 -c 'import json,sys; print(next(p["id"] for p in json.load(sys.stdin)["items"] if p["title"].startswith("Genomförandeplan 2024")))')"
fi
base="$out/uppfoljning-$year"
curl -fsS -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/reports/board-document?plan_id=$plan&year=$year" -o "$base.html"
curl -fsS -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/reports/board-document?plan_id=$plan&year=$year&format=xlsx" -o "$base.xlsx"

# The document has no scripts and no external assets: no network is needed to render it.
flags=(--headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars
       --user-data-dir="$(mktemp -d)")
"$chromium_bin" "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$(realpath "$base.pdf")" \
    "file://$(realpath "$base.html")" 2>/dev/null
# A4 at 96 dpi is 794 × 1123 pixels: the screenshot shows the first page.
"$chromium_bin" "${flags[@]}" --window-size=794,1123 --screenshot="$(realpath "$base.png")" \
    "file://$(realpath "$base.html")" 2>/dev/null
if [ -n "${PNG:-}" ]; then cp "$base.png" "$PNG"; fi
echo "render-board: $base.html, $base.xlsx, $base.pdf, $base.png"
