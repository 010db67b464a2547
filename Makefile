# sealtag — build, test, package. `make test` is what CI runs (.ci/run).
GO      ?= go
VERSION ?= $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build test deps vet unit fuzz fuzz-long bench bench-milter bench-postfix soak golden clean deb deb-test

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o sealtag .

# The whole suite, with its real peers (Postfix, Sendmail, miltertest,
# openssl, gpg) installed from Debian's packages when missing. Root is
# needed for apt-get and for the private Postfix and Sendmail.
test: deps vet unit fuzz deb-test

deps:
	./scripts/test-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# SEALTAG_REQUIRE_PEERS=1: a missing peer fails the tests instead of skipping them.
unit:
	SEALTAG_REQUIRE_PEERS=1 $(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target for a short while (CI), by execution count: a duration
# (-fuzztime 20s) trips golang/go#75804, fixed only in Go 1.27, where the
# coordinator reports "context deadline exceeded" with no crasher at the end.
# The counts take about 20 s each here; FUZZSCALE=30 gives ~10 minutes each.
FUZZSCALE ?= 1
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime $$((300000*$(FUZZSCALE)))x -fuzzminimizetime 100x ./inspect
	$(GO) test -run '^$$' -fuzz '^FuzzParseProviders$$' -fuzztime $$((60000*$(FUZZSCALE)))x -fuzzminimizetime 100x ./inspect
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $$((80000*$(FUZZSCALE)))x -fuzzminimizetime 100x ./policy
	$(GO) test -run '^$$' -fuzz '^FuzzMilterSession$$' -fuzztime $$((40000*$(FUZZSCALE)))x -fuzzminimizetime 100x ./milter

fuzz-long:
	$(MAKE) fuzz FUZZSCALE=30

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./inspect

# Milter throughput, latency, CPU and memory: no-op floor, sealtag, rspamd (issue 5).
# Writes bench-results.md; see contrib/bench/run.sh for N, RUNS, CONNS and the rest.
bench-milter:
	GO=$(GO) bash contrib/bench/run.sh

# Postfix's own throughput with sealtag, with the no-op milter and without a
# milter attached (smtp-source into a private Postfix); N messages per run.
bench-postfix:
	SEALTAG_BENCH_POSTFIX=1 BENCH_OUT=$(CURDIR)/bench-postfix.md $(GO) test -count=1 -timeout 30m -run TestPostfixThroughput -v ./contrib/bench/postfix

# 200 000 messages at 50 connections through milterload; RSS and goroutines
# at start, middle and end; every message's verdict checked (issue 6).
soak:
	@test -d /tmp/sealtag-load || bash testdata/load/gen.sh /tmp/sealtag-load
	SEALTAG_SOAK=1 BENCH_OUT=$(CURDIR)/soak-results.md $(GO) test -count=1 -timeout 60m -run TestSoak -v ./contrib/soak

# Rewrite the .golden files of the test messages after a deliberate change.
golden:
	$(GO) test -run TestClassifyGolden -update .

# The Debian package: dist/sealtag_$(VERSION)_<arch>.deb, built by nfpm
# (packaging/nfpm.yaml; pinned by the tool line in go.mod). The binary is
# built with cgo, dynamically linked against libc as Debian's Go packages
# are, stripped, as a PIE linked by gcc with Debian's hardening flags
# (dpkg-buildflags: relro, bindnow, fortify); dpkg-shlibdeps names its libc
# dependency.
DEB_ARCH = $(shell dpkg --print-architecture)
deb:
	@test "$$(dpkg-parsechangelog -l packaging/changelog -S Version)" = "$(VERSION)" || \
		{ echo "packaging/changelog: the latest entry is not version $(VERSION) (VERSION)"; exit 1; }
	rm -rf dist/build && mkdir -p dist/build/debian/sealtag/usr/sbin dist/build/debian/sealtag/DEBIAN
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all; \
	CGO_ENABLED=1 CGO_CPPFLAGS="$$(dpkg-buildflags --get CPPFLAGS)" CGO_CFLAGS="$$(dpkg-buildflags --get CFLAGS)" \
		CGO_LDFLAGS="$$(dpkg-buildflags --get LDFLAGS)" $(GO) build -trimpath -buildmode=pie -ldflags "$(LDFLAGS) -linkmode=external" -o dist/build/debian/sealtag/usr/sbin/sealtag .
	strip --remove-section=.comment --remove-section=.note dist/build/debian/sealtag/usr/sbin/sealtag
	sed 's/@VERSION@/$(VERSION)/' packaging/man/sealtag.8 | gzip -9n > dist/build/sealtag.8.gz
	sed 's/@VERSION@/$(VERSION)/' packaging/man/sealtag.toml.5 | gzip -9n > dist/build/sealtag.toml.5.gz
	gzip -9n < packaging/changelog > dist/build/changelog.gz
	gzip -9n < README.md > dist/build/README.md.gz
	printf 'Source: sealtag\n\nPackage: sealtag\nArchitecture: any\n' > dist/build/debian/control
	cd dist/build && dpkg-shlibdeps -O debian/sealtag/usr/sbin/sealtag | sed -n 's/^shlibs:Depends=//p' > shlibs
	@test -s dist/build/shlibs || { echo "dpkg-shlibdeps found no dependency"; exit 1; }
	rm -f dist/sealtag_*.deb
	VERSION=$(VERSION) ARCH=$(DEB_ARCH) SHLIBS_DEPENDS="$$(cat dist/build/shlibs)" \
		$(GO) tool nfpm pkg --config packaging/nfpm.yaml --packager deb --target dist/sealtag_$(VERSION)_$(DEB_ARCH).deb
	@echo "built dist/sealtag_$(VERSION)_$(DEB_ARCH).deb"

# Installs the .deb into this machine's system Postfix and tests it as an
# admin would (packaging/test-deb.sh); restores everything afterwards.
# Root only: it runs apt-get, dpkg and postfix.
deb-test:
	GO=$(GO) packaging/test-deb.sh

clean:
	rm -rf sealtag dist
