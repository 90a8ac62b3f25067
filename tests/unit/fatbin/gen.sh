#!/bin/sh
# Regenerates the committed fatbins of tests/unit/fatbin/data (and the fuzz seeds in
# tests/fuzz/fatbin/corpus) with nvcc. Needs the CUDA toolkit (NVCC=/usr/local/cuda/bin/nvcc by
# default) and binutils; users and the toolkit-hidden build never run it.
set -eu
cd "$(dirname "$0")"
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
OUT=data
SEEDS=../../fuzz/fatbin/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fatbin() { # name, nvcc options...
    name=$1
    shift
    "$NVCC" -fatbin "$@" src/vadd.cu -o "$OUT/$name.fatbin"
}
# One PTX entry for compute_80: stored plain, zstd (nvcc 13's default) and LZ4 (--compress-mode=speed).
fatbin ptx80_plain -gencode arch=compute_80,code=compute_80 --no-compress
fatbin ptx80_zstd -gencode arch=compute_80,code=compute_80
fatbin ptx80_lz4 -gencode arch=compute_80,code=compute_80 --compress-mode=speed
# PTX for 75, 80 and 90 and cubins for 80 and 90 in one container.
fatbin multi -gencode arch=compute_75,code=compute_75 \
    -gencode 'arch=compute_80,code=[compute_80,sm_80]' \
    -gencode 'arch=compute_90,code=[compute_90,sm_90]'
# A cubin only: no PTX at all.
fatbin sm80_cubin -gencode arch=compute_80,code=sm_80
# PTX for sm_90 only.
fatbin ptx90_zstd -gencode arch=compute_90,code=compute_90

section() { # object, section, output
    objcopy -O binary --only-section="$2" "$1" "$3"
}
# The host wrapper of an object file (its data pointer is a relocation, zero in the file) and the
# fatbin it points to, for whole-program (.nv_fatbin) and relocatable (-rdc, __nv_relfatbin) code.
"$NVCC" -c -gencode 'arch=compute_80,code=[compute_80,sm_80]' src/vadd.cu -o "$tmp/vadd.o"
section "$tmp/vadd.o" .nvFatBinSegment "$OUT/obj.nvFatBinSegment"
section "$tmp/vadd.o" .nv_fatbin "$OUT/obj.nv_fatbin"
"$NVCC" -c -rdc=true -gencode 'arch=compute_80,code=[compute_80,sm_80]' src/vadd.cu \
    -o "$tmp/vadd_rdc.o"
section "$tmp/vadd_rdc.o" .nvFatBinSegment "$OUT/rdc.nvFatBinSegment"
section "$tmp/vadd_rdc.o" __nv_relfatbin "$OUT/rdc.nv_relfatbin"
# A linked program of three translation units: four wrappers (a version 2 one first) with
# resolved pointers into one .nv_fatbin of four concatenated containers. app.vma holds the
# section's address, so the tests can turn the wrappers' pointers into offsets.
"$NVCC" -gencode arch=compute_80,code=compute_80 src/vadd.cu src/scale.cu src/main.cu \
    -o "$tmp/app"
section "$tmp/app" .nvFatBinSegment "$OUT/app.nvFatBinSegment"
section "$tmp/app" .nv_fatbin "$OUT/app.nv_fatbin"
objdump -h "$tmp/app" | awk '$2 == ".nv_fatbin" { print "0x" $4 }' >"$OUT/app.vma"

mkdir -p "$SEEDS"
# A crafted seed: plain, LZ4 and zstd containers concatenated.
cat "$OUT/ptx80_plain.fatbin" "$OUT/ptx80_lz4.fatbin" "$OUT/ptx90_zstd.fatbin" >"$SEEDS/concat.fatbin"
for f in "$OUT"/*.fatbin "$OUT"/*.nv_fatbin "$OUT"/*.nv_relfatbin; do
    cp "$f" "$SEEDS/$(basename "$f")"
done
"$NVCC" --version | tail -n 2 >"$OUT/NVCC_VERSION"
echo "gen.sh: wrote $OUT and $SEEDS"
