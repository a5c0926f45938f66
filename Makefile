# ceon: the two commands a new user needs are `make run` and `make test`.
# Everything else here is a convenience for developers.
.PHONY: all run test deps test-deps release asan fuzz fuzz-smoke gen bench clean format install

RUN_PORT ?= 5353
# make install [PREFIX=/usr/local] [DESTDIR=...]: capd in sbin, capc in bin,
# man pages, the systemd unit, the example zone. INSTALL_BUILD picks the
# build to install (the tests install the sanitizer build into a DESTDIR).
PREFIX ?= /usr/local
INSTALL_BUILD ?= build/release
CAPNP_PORT ?= 7000
FUZZ_SECONDS ?= 15

all: release

deps:
	@./tools/install-deps.sh

test-deps:
	@./tools/install-deps.sh --test

build/release/build.ninja:
	meson setup build/release -Dbuildtype=release -Doptimization=2 >/dev/null

release: deps build/release/build.ninja
	ninja -C build/release

build/asan/build.ninja:
	meson setup build/asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

asan: test-deps build/asan/build.ninja
	ninja -C build/asan

build/fuzz/build.ninja:
	CC=clang meson setup build/fuzz -Dbuildtype=debug -Dfuzz=true -Db_lundef=false >/dev/null

fuzz: test-deps build/fuzz/build.ninja
	ninja -C build/fuzz

# Serve examples/ on unprivileged ports with state in ./state.
run: release
	@./tools/run-example.sh build/release $(RUN_PORT) $(CAPNP_PORT)

# Unit + end-to-end tests under ASan/UBSan, then a short smoke run of every
# fuzz target. Ends with "N passed, N failed, N skipped". The release build
# is made too: -O2 warnings (-Werror) that -O0 does not see must fail here,
# not in `make run`.
test: asan fuzz release
	@./tools/run-tests.sh build/asan build/fuzz $(FUZZ_SECONDS)

# Regenerate the committed Cap'n Proto code from the schemas.
gen: release
	./tools/capnp-gen.sh build/release

bench: release
	@for b in bench/*.sh; do echo "== $$b"; $$b; done

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tools/*.[ch]' 'tests/*.[ch]' | grep -v '/gen/')

install: $(if $(filter build/release,$(INSTALL_BUILD)),release)
	@cur=$$(meson introspect --buildoptions $(INSTALL_BUILD) | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])'); \
	  [ "$$cur" = "$(PREFIX)" ] || { meson configure $(INSTALL_BUILD) -Dprefix=$(PREFIX) >/dev/null && ninja -C $(INSTALL_BUILD); }
	meson install -C $(INSTALL_BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

clean:
	rm -rf build
