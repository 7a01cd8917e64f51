# Keyshift — every target installs what it needs, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO      ?= cargo
TERRAFORM  ?= terraform
VERSION    := 0.1.0
# Honour a user's CARGO_TARGET_DIR (relative paths are relative to this
# directory, as cargo resolves them when run from here).
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),$(CURDIR)/target))
RELEASE    := $(TARGET_DIR)/release
PROVIDER   := $(RELEASE)/terraform-provider-keyshift
MIRROR_DIR := $(HOME)/.terraform.d/plugins/registry.terraform.io/keyshift/keyshift/$(VERSION)/linux_amd64
DEMO_DIR   := examples/quickstart
DEMO_RC    := $(TARGET_DIR)/keyshift-dev.tfrc
TF_FLAGS   := -input=false -no-color

.PHONY: help build demo test lint unit e2e install bench-provider bench-hcl bench-migrate clean-demo moto

# Tests never reach a real AWS endpoint or the EC2 metadata service.
export AWS_EC2_METADATA_DISABLED := true

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## release build of both binaries (one build shared by demo and e2e tests)
	$(CARGO) build --release --locked --bin terraform-provider-keyshift --bin keyshift

$(DEMO_RC): | build
	@mkdir -p $(dir $@)
	@printf 'provider_installation {\n  dev_overrides {\n    "keyshift/keyshift" = "%s"\n  }\n  direct {}\n}\n' "$(RELEASE)" > $@

demo: build $(DEMO_RC) ## build, then terraform apply examples/quickstart (store in examples/quickstart/.keyshift)
	cd $(DEMO_DIR) && TF_CLI_CONFIG_FILE=$(DEMO_RC) $(TERRAFORM) apply $(TF_FLAGS) -auto-approve
	@echo "== second plan (expect: No changes) =="
	cd $(DEMO_DIR) && TF_CLI_CONFIG_FILE=$(DEMO_RC) $(TERRAFORM) plan $(TF_FLAGS) -detailed-exitcode

clean-demo: ## forget the demo's state and store
	rm -rf $(DEMO_DIR)/.keyshift $(DEMO_DIR)/terraform.tfstate $(DEMO_DIR)/terraform.tfstate.backup

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

moto: ## install the moto AWS KMS emulator into .venv-moto (idempotent)
	./scripts/setup-moto.sh

unit: moto ## unit and integration tests of every crate (moto for the AWS side, a throwaway PostgreSQL; no terraform)
	./scripts/with-postgres.sh $(CARGO) test --locked --workspace --exclude keyshift-e2e

e2e: build ## end-to-end tests: the real terraform against the release provider
	KEYSHIFT_RELEASE_DIR=$(RELEASE) ./scripts/with-postgres.sh $(CARGO) test --locked -p keyshift-e2e -- --test-threads 2

test: lint unit e2e ## everything CI runs

install: build ## put the provider in Terraform's implied local mirror (plain `terraform init` finds it offline)
	mkdir -p $(MIRROR_DIR)
	install -m 0755 $(PROVIDER) $(MIRROR_DIR)/terraform-provider-keyshift_v$(VERSION)
	@echo "installed $(MIRROR_DIR)/terraform-provider-keyshift_v$(VERSION)"

bench-provider: build ## apply, refresh, destroy N keys vs padded terraform_data (N=1000, or N=3000; ROUNDS=3); headline ratios, CPU/key, peak RSS; STORE=postgres: also PostgreSQL vs SQLite
	KEYSHIFT_RELEASE_DIR=$(RELEASE) STORE=$(or $(STORE),sqlite) $(if $(filter postgres,$(STORE)),./scripts/with-postgres.sh) ./tests/bench/provider.sh $(or $(N),1000)

bench-migrate: build ## keyshift migrate --all of N keys (N=1000, 10000, 50000; NS="…" to choose), container and store moves (also into PostgreSQL, 1000 and 10000): keys/s and peak RSS
	$(CARGO) build --release --locked --example seed_migration_bench -p keyshift
	KEYSHIFT_RELEASE_DIR=$(RELEASE) ./tests/bench/migrate.sh
	KEYSHIFT_RELEASE_DIR=$(RELEASE) ./scripts/with-postgres.sh ./tests/bench/migrate_store.sh

bench-hcl: ## keyshift rewrite vs terraform fmt, plan-check vs jq
	KEYSHIFT_RELEASE_DIR=$(RELEASE) ./hcl-tool/bench.sh
