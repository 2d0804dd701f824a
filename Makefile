# fleetstream — `make run` starts the whole system on embedded brokers; `make test` proves it.
GO       ?= go
FUZZTIME ?= 5s
PKGS     := ./...

.PHONY: run build test test-deps unit fuzz lint bench image

run: ## the whole topology on embedded Kafka and MQTT brokers with a simulated fleet
	$(GO) run ./cmd/fleetstream dev

build:
	$(GO) build -o bin/fleetstream ./cmd/fleetstream

test: lint test-deps unit fuzz ## everything CI runs

test-deps: ## Mosquitto, kcat and Prometheus for the tests that talk to them (installed when root)
	@bash scripts/test-deps.sh

unit:
	$(GO) test -count=1 -timeout 15m $(PKGS)

fuzz: ## each fuzz target briefly
	@for t in $$($(GO) test -list '^Fuzz' ./codecs | grep '^Fuzz'); do \
		echo "fuzz codecs $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./codecs || exit 1; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench: ## throughput, latency, cost and recovery figures (not part of test)
	$(GO) run ./internal/bench

IMAGE ?= fleetstream:dev

image: ## container image of the fleetstream binary (deploy/Dockerfile; needs a Docker daemon with BuildKit)
	docker build -f deploy/Dockerfile -t $(IMAGE) .
