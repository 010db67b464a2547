# sealtag — build, test, package. `make test` is what CI runs (.ci/run).
GO      ?= go
VERSION ?= $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: all build test deps vet unit fuzz fuzz-long bench golden clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o sealtag .

# The whole suite, with its real peers (Postfix, Sendmail, miltertest,
# openssl, gpg) installed from Debian's packages when missing. Root is
# needed for apt-get and for the private Postfix and Sendmail.
test: deps vet unit fuzz

deps:
	./scripts/test-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# SEALTAG_REQUIRE_PEERS=1: a missing peer fails the tests instead of skipping them.
unit:
	SEALTAG_REQUIRE_PEERS=1 $(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target for a short while (CI); `make fuzz-long FUZZTIME=10m` for real runs.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./inspect
	$(GO) test -run '^$$' -fuzz '^FuzzParseProviders$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./inspect
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./policy

fuzz-long:
	$(MAKE) fuzz FUZZTIME=10m

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./inspect

# Rewrite the .golden files of the test messages after a deliberate change.
golden:
	$(GO) test -run TestClassifyGolden -update .

clean:
	rm -rf sealtag dist
