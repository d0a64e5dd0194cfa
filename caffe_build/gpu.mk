# GPU and container targets; included by the Makefile (uses PY, VENV, CAFFE_HOME, CURDIR).
#
# make caffe-cuda     Caffe with CUDA (Debian's toolkit, non-free, installed when missing) into
#                     CAFFE_CUDA_HOME; then use it with CAFFE_HOME=$(CAFFE_CUDA_HOME) (and make setup).
# make docker-test    the image built and run by a real Docker engine (root; not in make test).

# Debian 12's CUDA 11.8 toolkit: nvcc at /usr/bin/nvcc, headers in /usr/include.
CAFFE_CUDA_HOME ?= $(CURDIR)/.caffe-cuda
CAFFE_CUDA_ROOT ?= /usr
# Volta, Ampere (A100, A10/RTX 30), Ada (L4/L40/RTX 40), Hopper (H100, with PTX for later GPUs)
CUDA_ARCHS ?= 70 80 86 89 90
# docker-test: which image (cpu or cuda), and a PEM file of extra certificates its builds trust
FLAVOUR ?= cpu
EXTRA_CA ?=

.PHONY: caffe-cuda docker-test

caffe-cuda: $(VENV)/.stamp ## build Caffe with CUDA (Debian's 11.8 toolkit, sm_70..sm_90) into CAFFE_CUDA_HOME (.caffe-cuda/)
	@CUDA_HOME=$(CAFFE_CUDA_ROOT) CUDA_ARCHS="$(CUDA_ARCHS)" JOBS=$${JOBS:-$$(nproc)} \
	  bash caffe_build/build.sh "$(CAFFE_CUDA_HOME)" "$(PY)" cuda
	@echo "CUDA build in $(CAFFE_CUDA_HOME): use it with CAFFE_HOME=$(CAFFE_CUDA_HOME) make setup ... GPU=0"

docker-test: ## build the image with Docker and run the README's docker commands in it (root) [FLAVOUR=cpu|cuda EXTRA_CA=ca.pem]
	@EXTRA_CA="$(EXTRA_CA)" CUDA_ARCHS="$(CUDA_ARCHS)" bash caffe_build/docker_test.sh "$(CURDIR)" $(FLAVOUR)
