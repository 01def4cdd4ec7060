#!/usr/bin/env bash
# The size builds of issue 18's evaluation: each library alone, running the minimal flow (create,
# add with the PSK, join from the Welcome, remove, exporter, authenticator), built as the app is
# (opt-level z, LTO, panic=abort), through wasm-bindgen and wasm-opt -Oz, then gzip -9.
# Usage: bash size.sh   (CARGO_TARGET_DIR defaults to target/; wasm-opt must be on PATH)
set -e
cd "$(dirname "$0")"
here=$(pwd)
T=${CARGO_TARGET_DIR:-$here/target}
export CARGO_TARGET_DIR=$T
mkdir -p $T/size
for lib in ${LIBS:-openmls mlsrs veilig e2ee}; do
  nice -n 5 cargo build --lib --target wasm32-unknown-unknown --profile wasm-size --no-default-features --features $lib
  cp $T/wasm32-unknown-unknown/wasm-size/mls_eval.wasm $T/size/$lib.raw.wasm
  wasm-bindgen --target web --out-dir $T/size/$lib --out-name eval $T/size/$lib.raw.wasm
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals -o $T/size/$lib/eval_opt.wasm $T/size/$lib/eval_bg.wasm
  for f in eval_bg.wasm eval_opt.wasm eval.js; do
    printf '%s %s raw %d gzip %d\n' $lib $f $(stat -c %s $T/size/$lib/$f) $(gzip -9c $T/size/$lib/$f | wc -c)
  done
done
mkdir -p $here/size
for lib in ${LIBS:-openmls mlsrs}; do [ -f $T/size/$lib/eval_opt.wasm ] && cp $T/size/$lib/eval_opt.wasm $here/size/$lib.wasm; done
