# FlowForge: two commands matter.
#   make run    install what is missing, build, start FlowForge with embedded defaults
#   make test   everything the tests need, then fmt, clippy and the whole workspace's tests
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test deps bench fmt lint help
.DEFAULT_GOAL := help

help:
	@echo "make run    build and start FlowForge: the gateway on :8000 in front of every service"
	@echo "make test   fmt check, clippy -D warnings and all tests (starts PostgreSQL/Redis if needed)"
	@echo "make bench  benchmarks under bench/"

deps:
	@scripts/install-deps.sh
	@scripts/fetch-models.sh

run: deps
	$(CARGO) run --release --locked -p flowforge --bin flowforge

test: deps
	eval "$$(scripts/services.sh)" && \
	$(CARGO) fmt --all -- --check && \
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings && \
	$(CARGO) test --workspace --locked

bench: deps
	bench/crypto.sh
	bench/math.sh
	bench/data.sh
	bench/image.sh
	bench/pdf.sh
	bench/ocr.sh
	bench/llm.sh
	bench/vector.sh
	bench/gateway.sh
	bench/gateway-instructions.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
