# gpool — the build is Meson + Ninja; this Makefile is the front door.
#   make          install missing packages, build everything into build/
#   make check    build and run every test: default build, ASan+UBSan build, and a build with the
#                 CUDA toolkit hidden (the path a user's fresh machine takes)
#   make demo     build, then run the sample programs on simulated GPUs
#   make fuzz     build libFuzzer targets with clang into build-fuzz/ (FUZZ_SECONDS=60 make fuzz runs them)

BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps build check demo fuzz format clean

all: build

deps:
	@scripts/deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps
	scripts/check

demo: build
	scripts/demo $(BUILD)

fuzz: deps
	scripts/fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-nocuda build-fuzz
