# GPU and container targets; included by the Makefile (uses PY, VENV, CAFFE_HOME, HERE).
#
# make caffe-cuda     Caffe with CUDA (Debian's toolkit, non-free, installed when missing) into
#                     CAFFE_CUDA_HOME; then use it with CAFFE_HOME=$(CAFFE_CUDA_HOME) (and make setup).
#                     With CUDA_HOME=/usr/local/cuda-13.0 (an NVIDIA CUDA 12 or 13 toolkit): against
#                     that toolkit instead, into .caffe-cuda13.0/ (one folder per release).
# make docker-test    the image built and run by a real Docker engine (root; not in make test).

# Debian 12's CUDA 11.8 toolkit: nvcc at /usr/bin/nvcc, headers in /usr/include; or CUDA_HOME's.
CUDA_HOME ?=
CUDA_RELEASE := $(if $(CUDA_HOME),$(shell "$(CUDA_HOME)/bin/nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\),.*/\1/p'))
CAFFE_CUDA_HOME ?= $(HERE)/.caffe-cuda$(CUDA_RELEASE)
# the toolkit's real path: /usr/local/cuda and /usr/local/cuda-13.0 are one build, not two
CAFFE_CUDA_ROOT ?= $(if $(CUDA_HOME),$(or $(realpath $(CUDA_HOME)),$(CUDA_HOME)),/usr)
# empty: build.sh's choice, Volta (11.8 only), Ampere (A100, A10/RTX 30), Ada (L4/L40/RTX 40),
# Hopper (H100/H200) and, where the toolkit has them, Blackwell (sm_100, sm_120), PTX for the newest
CUDA_ARCHS ?=
# docker-test: which image (cpu or cuda), and a PEM file of extra certificates its builds trust
FLAVOUR ?= cpu
EXTRA_CA ?=

.PHONY: caffe-cuda docker-test

caffe-cuda: $(VENV)/.stamp ## build Caffe with CUDA (Debian's 11.8, or CUDA_HOME=an NVIDIA 12/13 toolkit) into CAFFE_CUDA_HOME
	@CUDA_HOME=$(CAFFE_CUDA_ROOT) CUDA_ARCHS="$(CUDA_ARCHS)" JOBS=$${JOBS:-$$(nproc)} \
	  bash caffe_build/build.sh "$(CAFFE_CUDA_HOME)" "$(PY)" cuda
	@echo "CUDA build in $(CAFFE_CUDA_HOME): use it with CAFFE_HOME=$(CAFFE_CUDA_HOME) make setup ... GPU=0"

docker-test: ## build the image with Docker and run the README's docker commands in it (root) [FLAVOUR=cpu|cuda EXTRA_CA=ca.pem]
	@EXTRA_CA="$(EXTRA_CA)" CUDA_ARCHS="$(CUDA_ARCHS)" bash caffe_build/docker_test.sh "$(HERE)" $(FLAVOUR)

# --- the GPU bundle: CUDA Caffe to carry to a GPU machine, and its one-command check ---------
# make gpu-bundle        dist/caffe-cuda-bundle.tar.gz (<= 60 MiB) from the CUDA build of
#                        BUNDLE_CUDA_HOME (built first when missing) and split 0's Fashion-MNIST
# make gpu-bundle-check  the tarball's libraries: nothing outside it but the system's and the host's CUDA
# make gpu-check         the bundle's gpu-check.sh here, into GPU_CHECK_OUT (needs a GPU: else exit 3)
BUNDLE_CUDA_HOME ?= $(or $(realpath $(or $(CUDA_HOME),/usr/local/cuda)),$(CUDA_HOME),/usr/local/cuda)
BUNDLE_RELEASE := $(shell "$(BUNDLE_CUDA_HOME)/bin/nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
BUNDLE_CAFFE ?= $(HERE)/.caffe-cuda$(BUNDLE_RELEASE)
GPU_BUNDLE ?= $(HERE)/dist/caffe-cuda-bundle.tar.gz
GPU_CHECK_OUT ?= $(HERE)/runs/gpu-check/$(shell date -u +%Y%m%d-%H%M%S)
GPU_CHECK_ARGS ?=

.PHONY: gpu-bundle gpu-bundle-check gpu-check

gpu-bundle: $(VENV)/.stamp $(FM_DATA)/half0A.done $(FM_DATA)/half0B.done ## dist/caffe-cuda-bundle.tar.gz (<= 60 MiB): CUDA Caffe, its libraries, the GPU check's nets and data [BUNDLE_CUDA_HOME=/usr/local/cuda]
	$(call require,$(BUNDLE_RELEASE),no nvcc at BUNDLE_CUDA_HOME=$(BUNDLE_CUDA_HOME) (bin/nvcc): set it (or CUDA_HOME) to a CUDA 12 or 13 toolkit)
	@$(MAKE) --no-print-directory caffe-cuda CUDA_HOME=$(BUNDLE_CUDA_HOME) CAFFE_CUDA_HOME=$(BUNDLE_CAFFE)
	@CAFFE_HOME=$(BUNDLE_CAFFE) TRANSFERABILITY=$(TRANSFERABILITY) PYTHON=$(PY) \
	  bash caffe_build/gpu_bundle.sh "$(BUNDLE_CAFFE)" "$(DATA)" "$(GPU_BUNDLE)"

gpu-bundle-check: ## check the tarball's ELF closure (readelf, ldd with LD_LIBRARY_PATH cleared)
	$(call require,$(wildcard $(GPU_BUNDLE)),no $(GPU_BUNDLE): make gpu-bundle first)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && tar -xzf "$(GPU_BUNDLE)" -C "$$tmp" \
	  && bash caffe_build/bundle/closure.sh "$$tmp/caffe-cuda-bundle" \
	  && echo "$(GPU_BUNDLE): $$(du -m "$(GPU_BUNDLE)" | cut -f1) MiB"

gpu-check: ## run the bundle's gpu-check.sh on this machine's GPU [GPU_CHECK_OUT=.. GPU_CHECK_ARGS=--gpu 1]
	$(call require,$(wildcard $(GPU_BUNDLE)),no $(GPU_BUNDLE): make gpu-bundle first)
	@dir=$(HERE)/.cache/gpu-bundle && rm -rf "$$dir" && mkdir -p "$$dir" \
	  && tar -xzf "$(GPU_BUNDLE)" -C "$$dir" \
	  && "$$dir/caffe-cuda-bundle/gpu-check.sh" $(GPU_CHECK_ARGS) "$(GPU_CHECK_OUT)"
