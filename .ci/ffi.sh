#!/usr/bin/env bash
# The foreign-language bindings of crates/adieu-ffi against a real `adieu serve`:
#   - Python: a wheel built by maturin, pytest;
#   - Kotlin on the JVM (not Android): bindings from uniffi-bindgen, kotlinc, a test program;
#   - Swift: bindings generated only (no Swift toolchain here), kept under target/ as an artifact.
# Installs are idempotent and pinned; each step is bounded in time. Fails on any test failure.
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN_REQUIREMENTS=.ci/requirements-ffi.txt
KOTLIN_VERSION=2.3.21
VENV=/tmp/adieu-ffi-venv
KOTLINC_DIR=/tmp/kotlinc-$KOTLIN_VERSION
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/ffi
started=$SECONDS

echo "== ffi: tools (maturin and pytest from PyPI, kotlinc from npm, JNA from Debian; pinned)"
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
# Pinned and already satisfied: no download.
timeout 300 "$VENV/bin/pip" install -q -r "$MATURIN_REQUIREMENTS"
KOTLINC=$KOTLINC_DIR/node_modules/kotlin-compiler
if [ ! -x "$KOTLINC/bin/kotlinc" ]; then
  timeout 300 npm install --silent --prefix "$KOTLINC_DIR" "kotlin-compiler@$KOTLIN_VERSION"
fi
if [ ! -f /usr/share/java/jna.jar ]; then
  apt-get update -qq
  apt-get install -y -qq libjna-java >/dev/null
fi
"$VENV/bin/maturin" --version
"$KOTLINC/bin/kotlinc" -version 2>&1 | tail -1

echo "== ffi: the library, uniffi-bindgen and the server binary"
# Two builds, not one: together their features would unify differently from the workspace's.
timeout 1200 nice -n 10 cargo build -p adieu-ffi
# The server: the binary the test run just built when the caller names it (.ci/run does),
# else a build of its own.
if [ -z "${ADIEU_BIN:-}" ]; then
  timeout 1200 nice -n 10 cargo build -p adieu --bin adieu
  ADIEU_BIN=$TARGET/debug/adieu
fi
export ADIEU_BIN
LIB=$TARGET/debug/libadieu_ffi.so
BINDGEN=$TARGET/debug/uniffi-bindgen
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== ffi: Swift bindings (generated, not compiled or tested here: no Swift toolchain)"
"$BINDGEN" generate --library "$LIB" --language swift --out-dir "$OUT/swift"
ls "$OUT/swift"

echo "== ffi: Python wheel (maturin, bindings = uniffi) and pytest against adieu serve"
# maturin 1.16 generates the Python with `cargo run --bin uniffi-bindgen` at the workspace root,
# where cargo picks the root package (`adieu`) and finds no such binary: a shim names the package.
mkdir -p "$OUT/shim"
cat >"$OUT/shim/cargo" <<SHIM
#!/bin/sh
if [ "\$1 \$2 \$3" = "run --bin uniffi-bindgen" ]; then
  shift 3
  exec $(command -v cargo) run -q -p adieu-ffi --bin uniffi-bindgen "\$@"
fi
exec $(command -v cargo) "\$@"
SHIM
chmod +x "$OUT/shim/cargo"
PATH=$OUT/shim:$PATH timeout 1200 nice -n 10 "$VENV/bin/maturin" build --quiet \
  -m crates/adieu-ffi/Cargo.toml --out "$OUT/wheels"
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$OUT"/wheels/adieu_ffi-*.whl
(cd crates/adieu-ffi/tests/python && timeout 600 "$VENV/bin/pytest" -q -p no:cacheprovider)

echo "== ffi: Kotlin on the JVM, not Android (kotlinc, JNA, kotlinx-coroutines from the compiler)"
"$BINDGEN" generate --library "$LIB" --language kotlin --out-dir "$OUT/kotlin" --no-format
CP=/usr/share/java/jna.jar:$KOTLINC/lib/kotlinx-coroutines-core-jvm.jar
timeout 900 nice -n 10 "$KOTLINC/bin/kotlinc" -nowarn -classpath "$CP" \
  "$OUT"/kotlin/org/adieu/adieu_ffi.kt crates/adieu-ffi/tests/kotlin/ClientTest.kt \
  -d "$OUT/kotlin-test.jar"
timeout 300 java -Djna.library.path="$(dirname "$LIB")" \
  -cp "$CP:$KOTLINC/lib/kotlin-stdlib.jar:$OUT/kotlin-test.jar" ClientTestKt "$ADIEU_BIN"

echo "== ffi: done in $((SECONDS - started)) s"
