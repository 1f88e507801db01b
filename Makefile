# syncgate build. `make build` puts the gateway, the connectors with their
# manifests, and a lock file for what it built under bin/.
GO        ?= go
BIN       := bin
TOOLS     := $(CURDIR)/bin/tools
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
# Every connector this repository builds: <name>=<main package>.
CONNECTORS := dir-mailbox=./examples/dirconnector/cmd/dir-mailbox \
              dir-crm=./examples/dirconnector/cmd/dir-crm \
              exchange=./plugins/exchange/cmd/exchange \
              crm=./plugins/crm/cmd/crm \
              caldav=./plugins/caldav/cmd/caldav
# The emulated backends the quick start, the tests and the bench run against.
EMULATORS  := graph-emulator=./plugins/exchange/cmd/graph-emulator \
              dataverse-emulator=./plugins/crm/cmd/dataverse-emulator

.PHONY: build test proto lint clean run bench-caldav

build:
	$(GO) build -o $(BIN)/syncgate ./gateway/cmd/syncgate
	@set -e; for c in $(CONNECTORS); do \
		name=$${c%%=*}; pkg=$${c#*=}; \
		mkdir -p $(BIN)/plugins/$$name; \
		$(GO) build -o $(BIN)/plugins/$$name/$$name $$pkg; \
		cp $$pkg/connector.hcl $(BIN)/plugins/$$name/connector.hcl; \
	done
	@set -e; for c in $(EMULATORS); do \
		$(GO) build -o $(BIN)/$${c%%=*} $${c#*=}; \
	done
	$(GO) build -o $(BIN)/dirctl ./examples/dirconnector/cmd/dirctl
	$(BIN)/syncgate plugins lock --plugin-dir $(BIN)/plugins --lock-file $(BIN)/connectors.lock.hcl

# The main job on one machine (examples/quickstart/README.md): the Graph and
# Dataverse emulators seeded with demo data, the gateway with the quick-start
# config, the initial sync's progress, then syncing until Ctrl-C, which stops
# every process. RUN_FLAGS passes flags to bin/quickstart (-h lists them).
RUN_CONFIG ?= examples/quickstart/syncgate.hcl
RUN_FLAGS  ?=
run: build
	$(GO) build -o $(BIN)/quickstart ./examples/quickstart/cmd/quickstart
	@$(BIN)/quickstart -config $(RUN_CONFIG) -bin $(BIN) $(RUN_FLAGS)

# The CalDAV connector against vdirsyncer: 5,000 vCards in Radicale copied
# into a folder by each, then one round with 1% of them changed.
bench-caldav:
	$(GO) run ./plugins/caldav/cmd/caldav-bench -n 5000

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

proto: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc
	PATH=$(TOOLS):$$PATH protoc -I sdk/protocol/pb \
		--go_out=paths=source_relative:sdk/protocol/pb \
		--go-grpc_out=paths=source_relative:sdk/protocol/pb \
		sdk/protocol/pb/connector.proto

$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

clean:
	rm -rf $(BIN)
