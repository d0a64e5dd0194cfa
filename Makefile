# Yosinski et al. 2014, "How transferable are features in deep neural networks?", with BVLC Caffe.
# `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON3    ?= python3
shell_quote = '$(subst ','\'',$(1))'

# --- paths as make takes them: one word each, with none of make's special characters ----------
# The checkout's own folder is then spelled `.` (every recipe runs in it), and a path given on the
# command line or in the environment is spelled as a link to it (plan/paths.py).
hash := \#
comma := ,
lparen := (
rparen := )
odd_chars := : = % * ? [ ] ; ' " | & < > \ ! ` { } $(hash) $$ $(comma) $(lparen) $(rparen)
odd = $(or $(word 2,x$(1)x),$(strip $(foreach c,$(odd_chars),$(findstring $(c),$(1)))))
given = $(if $(filter command line environment,$(origin $(1))),$(value $(1)))
HERE := $(if $(call odd,$(CURDIR)),.,$(CURDIR))
PATH_VARS := IMAGES HALVES DATA RUNS FIGURES RESULTS REPORT FACTORS_OUT ESTIMATORS_OUT SIMILARITY_OUT \
  IMAGENET FASHION_MNIST WORDNET CAFFE_HOME AUTHORS
odd_given := $(strip $(foreach v,$(PATH_VARS),$(if $(call odd,$(call given,$(v))),$(v))))
# a line break: a make variable holds one, but no recipe line can carry it ($(shell) drops it)
define newline


endef
carriage_return := $(shell printf '\r')
$(foreach v,$(odd_given),$(foreach c,newline carriage_return,$(if $(findstring $($(c)),$(call given,$(v))),\
  $(error $(v)='$(subst $(carriage_return),\r,$(subst $(newline),\n,$(call given,$(v))))' has a $(subst _, ,$(c)) in its path$(comma) which make cannot carry into a command: rename the folder$(comma) or link it from a path without one))))
ifneq ($(odd_given),)
spellings := $(shell PYTHONPATH=python $(PYTHON3) -m transferability.plan.paths $(HERE)/.cache/paths \
  $(foreach v,$(odd_given),$(call shell_quote,$(v)=$(call given,$(v)))))
$(if $(filter error:,$(firstword $(spellings))),$(error $(wordlist 2,$(words $(spellings)),$(spellings))))
$(foreach s,$(spellings),$(eval override $(subst =, := ,$(s))))
endif

VENV       := $(HERE)/.venv
PY         := $(VENV)/bin/python
# A CAFFE_HOME given by the user names an existing install: it is checked, never built; the
# project's own, .caffe/, is built (in a sub-make too, which has it from the environment), and
# said to be there already only to a `make caffe`.
ifeq ($(origin CAFFE_HOME),undefined)
CAFFE_HOME := $(HERE)/.caffe
endif
CAFFE_BUILD := $(if $(filter $(abspath $(HERE)/.caffe),$(abspath $(CAFFE_HOME))),1)
CAFFE_FLAVOUR ?= auto
export CAFFE_HOME

# --- what to train ----------------------------------------------------------------------------
DATASET   ?= $(if $(IMAGENET),imagenet,fashion-mnist)
# DATASET=imagenet SIZE=32 (or 64) is ImageNet downsampled: the dataset imagenet32, with data and
# run folders of its own (SIZE is checked once the plan's lists are read, below).
ifeq ($(DATASET)$(if $(SIZE),+),imagenet+)
DOWNSAMPLE_ASKED := $(SIZE)
override DATASET := imagenet$(SIZE)
endif
SPLIT     ?= 0
FASHION_MNIST ?= /usr/share/datasets/fashion-mnist
DATA      ?= $(HERE)/data
# ITERS=k shortens every solver of the call; such runs get folders of their own.
RUNS      ?= $(HERE)/runs$(if $(ITERS),/iters$(ITERS))
FIGURES   ?= $(RUNS)/figures
REPORT    ?= $(RUNS)/report-$(DATASET).html
RESULTS   ?= $(if $(OWN),$(RUNS)/results/$(DATASET),$(HERE)/results/$(DATASET))
N         ?=
FROM      ?= A
TO        ?= B
FT        ?=
PER_CLASS ?= 10
GPU       ?=
# `make demo` trains JOBS nets at once, one per core by default; each net's Caffe spreads its
# layers over OMP_NUM_THREADS threads: the cores shared among the nets that make runs at once
# (all of them for a net trained alone), unless OMP_NUM_THREADS is set.
CORES     ?= $(shell nproc 2>/dev/null || echo 1)
JOBS      ?= $(CORES)
make_jobs  = $(if $(filter -j,$(MAKEFLAGS)),$(CORES),$(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),1))
net_threads = $(shell n=$$(( $(CORES) / $(1) )); echo $$(( n > 0 ? n : 1 )))
# Snapshots kept per run (the newest whole ones; `all`: the paper's every 10,000 iterations), and
# space to leave free beyond what `make data` or a run writes (checked before either starts).
KEEP_SNAPSHOTS ?= 2
DISK_MARGIN ?= 0
export DISK_MARGIN
TRANSFERABILITY := $(VENV)/bin/transferability
# Debian's OpenBLAS runs a CPU newer than it on Pentium 4 kernels: name the ones it has (unless set).
ifeq ($(origin OPENBLAS_CORETYPE),undefined)
# (the image's build stage has the Makefile before the script: no kernels to name there)
OPENBLAS_CORETYPE := $(if $(wildcard $(HERE)/caffe_build/blas_core.sh),$(shell bash $(HERE)/caffe_build/blas_core.sh))
endif
ifneq ($(OPENBLAS_CORETYPE),)
export OPENBLAS_CORETYPE
endif
# OpenBLAS threads fight each other under make -j; one per run is also what keeps CPU runs exact.
TRAIN = OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} \
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$(call net_threads,$(make_jobs))} \
	$(TRANSFERABILITY) train --runs $(RUNS) \
	--data $(DATA) $(if $(ITERS),--iters $(ITERS)) $(if $(GPU),--gpu $(GPU)) \
	--keep-snapshots '$(KEEP_SNAPSHOTS)' --disk-margin '$(DISK_MARGIN)'

# Bad input stops make with one line: "Makefile:NN: *** <what is wrong>.  Stop."
require = $(if $(1),,$(error $(2)))
one_of  = $(and $(filter $(2),$(1)),$(if $(word 2,$(1)),,ok))
GROUP = $(if $(filter natman,$(SPLIT)),natman,split$(SPLIT))
# One net a user names: its run folder, finished or not, must have been made with these settings
# (make alone would call a finished one up to date whatever ITERS says); then its target trains it.
train_one = $(TRANSFERABILITY) train --check-only --runs $(RUNS) --data $(DATA) \
	$(if $(ITERS),--iters $(ITERS)) $(DATASET) '$(1)' && $(MAKE) --no-print-directory '$(DATASET)/$(1)'
# The plan's value lists (PLAN_LISTS names them: PLAN_DATASETS, PLAN_SPLITS, ...), one rule and one
# target `<dataset>/<group>/<net>` per network come from the plan package, in $(PLAN_MK) (the end).
space := $(subst ,, )
# `a, b or c`
or_list = $(if $(word 2,$(1)),$(subst $(space),$(comma)$(space),$(strip $(wordlist 1,$(words $(wordlist 2,999,$(1))),$(1)))) or $(lastword $(1)),$(1))
# DATASET and SPLIT are checked here, for every target that reads them (data.mk's `make data` too);
# a user's own images (OWN) have the splits and reduced sets their data has (OWN_SPLITS, ..).
dataset_error = $(if $(call one_of,$(DATASET),$(PLAN_DATASETS) $(OWN)),,unknown DATASET '$(DATASET)': use $(call or_list,$(PLAN_DATASETS)))
splits = $(or $(OWN_SPLITS),$(PLAN_SPLITS))
split_error = $(if $(call one_of,$(SPLIT),$(splits)),,$(if $(and $(OWN),$(filter natman,$(SPLIT))),$(OWN) has no natman split: there is no WordNet for your classes$(comma) so give make data a HALVES=file naming the classes of half A,unknown SPLIT '$(SPLIT)': use $(call or_list,$(splits))))
n_error = N must be an integer from $(firstword $(PLAN_LAYERS_N)) to $(lastword $(PLAN_LAYERS_N))$(comma) not '$(N)'

.PHONY: help setup caffe caffe-check test test-deps lint demo bench bench-frozen bench-cpu bench-imagenet \
	caffe-stock caffe-test jobs

# A help line's <PLAN_X> stands for the plan's list PLAN_X, written a|b|c.
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_. -]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' \
	  $(MAKEFILE_LIST) | sed $(foreach v,$(PLAN_LISTS),-e 's/<$(v)>/$(subst $(space),|,$($(v)))/g')

.PHONY: check-args base-A base-B transfer random whole reduced figure2 paper figures compare \
	figures-paper paper-metric factors factors-grid estimators similarity prototxt noise report study \
	publish

# --- the demo: the paper's method end to end, small ----------------------------------------
demo: ## Fashion-MNIST, split 0: figure 2's nets, baseB's noise, the figure and the report (CPU)
	@$(MAKE) --no-print-directory caffe setup
	@echo "demo: $(JOBS) nets at a time with $(call net_threads,$(JOBS)) thread(s) each"
	@mkdir -p $(RUNS) && { $(TRANSFERABILITY) progress demo --runs $(RUNS) & progress=$$!; \
	  $(MAKE) --no-print-directory -j$(JOBS) figure2 noise DATASET=fashion-mnist SPLIT=0 GPU=; \
	  status=$$?; kill $$progress 2>/dev/null; wait $$progress 2>/dev/null; exit $$status; }
	@$(MAKE) --no-print-directory compare report DATASET=fashion-mnist
	@echo "report: $$(realpath -m $(RUNS))/report-fashion-mnist.html"

# --- the paper: figure 2 of one split, all 170 networks --------------------------------------
figure2: check-args ## the 30 nets of figure 2 for SPLIT (A to B), then the figure
	@$(MAKE) --no-print-directory $(FIGURE2_$(SPLIT)_$(DATASET))
	@$(TRANSFERABILITY) figures $(RUNS) --data $(DATA) --out $(FIGURES) --dataset $(DATASET) --split $(SPLIT) --figure 2
	@echo "figure 2: $$(realpath -m $(FIGURES))/$(DATASET)_figure2_split$(SPLIT).png (and .pdf)"

paper: check-args ## all 170 networks of the paper, bases first (fit for make -j); + noise but on imagenet
	@$(MAKE) --no-print-directory $(PAPER_$(DATASET)) $(if $(filter-out imagenet,$(DATASET)),$(NOISE_0_$(DATASET)))

noise: check-args ## baseB of SPLIT again with two more seeds: the seed-to-seed spread
	@$(MAKE) --no-print-directory $(NOISE_$(SPLIT)_$(DATASET))

study: check-args ## make paper, then publish: the whole study and its results (make -j2 study)
	@$(MAKE) --no-print-directory paper
	@$(MAKE) --no-print-directory publish

# --- single networks -------------------------------------------------------------------------
check-args: $(if $(CAFFE_BUILD),,caffe-check)
	$(if $(dataset_error),$(error $(dataset_error)))
	$(if $(split_error),$(error $(split_error)))
	$(if $(filter imagenet,$(DATASET)),$(call require,$(IMAGENET),DATASET=imagenet needs IMAGENET=/path/to/ILSVRC2012))
	$(if $(ITERS),$(call require,$(shell [ "$(ITERS)" -gt 0 ] 2>/dev/null && echo ok),ITERS must be a positive integer$(comma) not '$(ITERS)'))

base-A base-B: check-args setup ## base net of half A or B [DATASET=.. SPLIT=<PLAN_SPLITS>]
	@$(call train_one,$(GROUP)/base$(@:base-%=%))

transfer: check-args setup ## N=<PLAN_LAYERS_N> FROM=<PLAN_HALVES> TO=<PLAN_HALVES> [FT=1]: first N layers of baseFROM, trained on TO
	$(call require,$(call one_of,$(N),$(PLAN_LAYERS_N)),$(n_error))
	$(call require,$(call one_of,$(FROM),$(PLAN_HALVES)),FROM must be $(call or_list,$(PLAN_HALVES))$(comma) not '$(FROM)')
	$(call require,$(call one_of,$(TO),$(PLAN_HALVES)),TO must be $(call or_list,$(PLAN_HALVES))$(comma) not '$(TO)')
	$(call require,$(call one_of,$(or $(FT),0),0 1),FT must be 1 (fine-tuned) or 0 or empty (frozen)$(comma) not '$(FT)')
	@$(call train_one,$(GROUP)/$(FROM)$(N)$(TO)$(if $(filter-out 0,$(FT)),+))

random: check-args setup ## N=<PLAN_LAYERS_N>: all classes, first N layers frozen at their random initialisation
	$(call require,$(call one_of,$(N),$(PLAN_LAYERS_N)),$(n_error))
	@$(call train_one,whole/random$(N))

whole: check-args setup ## the base net on all classes
	@$(call train_one,whole/base)

reduced: check-args setup ## PER_CLASS=<PLAN_PER_CLASS> images per class
	$(call require,$(call one_of,$(PER_CLASS),$(or $(OWN_PER_CLASS),$(PLAN_PER_CLASS))),PER_CLASS must be one of $(or $(OWN_PER_CLASS),$(PLAN_PER_CLASS))$(comma) not '$(PER_CLASS)')
	@$(call train_one,reduced/reduced$(shell printf %04d $(PER_CLASS)))

# --- results ---------------------------------------------------------------------------------
publish: setup ## RESULTS (results/DATASET): tables, figures, findings with verdicts, report
	@$(TRANSFERABILITY) report $(RUNS) --data $(DATA) --dataset $(DATASET) --out $(RESULTS) --publish \
	  --similarity $(SIMILARITY_OUT)

report: setup ## one HTML page: figures, tables, noise and the paper's findings with verdicts
	@mkdir -p $(RUNS)
	@$(TRANSFERABILITY) report $(RUNS) --data $(DATA) --dataset $(DATASET) --out $(REPORT) \
	  --similarity $(SIMILARITY_OUT)

figures: setup ## every figure that the runs so far allow, into FIGURES
	@mkdir -p $(RUNS)
	$(TRANSFERABILITY) figures $(RUNS) --data $(DATA) $(if $(OWN),--dataset $(OWN)) --out $(FIGURES)

figures-paper: setup ## the paper's figures from its published numbers alone
	$(TRANSFERABILITY) figures --paper --out $(FIGURES)

paper-metric: setup ## AUTHORS=authors_test_scores.csv.gz: the reference's plotted accuracy (mean of 10 best)
	$(call require,$(AUTHORS),give AUTHORS=<the authors' test lines: authors_test_scores.csv.gz>)
	$(TRANSFERABILITY) paper-metric '$(AUTHORS)' --out python/transferability/reference/paper_plotted_accuracy.csv

compare: setup ## this project's results beside the paper's, with the derived quantities
	@mkdir -p $(RUNS)
	$(TRANSFERABILITY) compare $(RUNS) --data $(DATA) --dataset $(DATASET) --out $(RUNS)/compare.csv

factors: setup ## Azizpour et al.'s study: baseA's layers as linear-SVM features for half B, beside AnB
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(TRANSFERABILITY) factors $(RUNS) $(DATA) \
	  --dataset $(DATASET) --split $(SPLIT) --out $(FIGURES)/factors $(if $(GPU),--gpu $(GPU))

# ITERS=k runs (tests, trials) never overwrite the committed results/factors.
FACTORS_OUT ?= $(if $(ITERS),$(RUNS)/factors-results,$(HERE)/results/factors)
FACTORS_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The grid's sources (trained on split 0's half A) and its targets' data.
GRID_INPUTS = $(FACTORS_fashion-mnist) $(DIGITS_STAMP) $(FM_DATA)/half0B.done \
  $(FM_DATA)/halfnatmanB.done
factors-grid: check-args setup ## Azizpour et al.'s grid: source width x depth, near/middle/far targets (make -j2)
	@$(MAKE) --no-print-directory $(GRID_INPUTS) DATASET=fashion-mnist
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(TRANSFERABILITY) factors-grid \
	  $(RUNS) $(DATA) --out $(FACTORS_OUT) \
	  --jobs $(FACTORS_JOBS)

# Cheap transferability estimators on the grid's features, beside its SVMs and split 0's AnB
# (read where finished: `make demo` trains them). The grid's sources and targets are made first,
# and the grid itself where FACTORS_OUT has no grid.csv.
ESTIMATORS_OUT ?= $(if $(ITERS),$(RUNS)/estimators-results,$(HERE)/results/estimators)
BOOTSTRAP ?= 100
estimators: check-args setup ## LogME, H-score, LEEP, NCE per layer of the factors grid against its SVMs and AnB [BOOTSTRAP=100]
	@$(MAKE) --no-print-directory $(GRID_INPUTS) DATASET=fashion-mnist
	@test -f $(FACTORS_OUT)/grid.csv || $(MAKE) --no-print-directory factors-grid
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(TRANSFERABILITY) estimators \
	  $(RUNS) $(DATA) --grid $(FACTORS_OUT)/grid.csv --out $(ESTIMATORS_OUT) \
	  --bootstrap $(BOOTSTRAP) --jobs $(FACTORS_JOBS)

# Layer-by-layer CKA of the study's nets beside the transfer they measured: split 0's baseA,
# baseB, its seed replicates, AnB, AnB+ and BnB+ trained first where missing (Figure 2's and the
# noise's rules), the other random splits read where finished. ITERS=k runs and other datasets
# never overwrite the committed results/similarity.
SIMILARITY_OUT ?= $(if $(or $(ITERS),$(filter-out fashion-mnist,$(DATASET))),$(RUNS)/similarity-results/$(DATASET),$(HERE)/results/similarity)
SIMILARITY_IMAGES ?= 1000
SIMILARITY_BOOTSTRAP ?= 200
SIMILARITY_NETS = $(filter-out $(foreach n,$(PLAN_LAYERS_N),$(DATASET)/split0/B$(n)B),\
  $(FIGURE2_0_$(DATASET))) $(NOISE_0_$(DATASET))
similarity: check-args setup ## CKA of split 0's nets (+ other splits trained), layer by layer, beside the transfer [SIMILARITY_IMAGES=1000 SIMILARITY_BOOTSTRAP=200]
	@$(MAKE) --no-print-directory $(SIMILARITY_NETS)
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-$(CORES)} $(TRANSFERABILITY) similarity $(RUNS) \
	  --data $(DATA) --dataset $(DATASET) --out $(SIMILARITY_OUT) \
	  --images $(SIMILARITY_IMAGES) --bootstrap $(SIMILARITY_BOOTSTRAP)

prototxt: setup ## regenerate every train_val and solver prototxt from the one definition
	$(TRANSFERABILITY) generate

# --- on a cluster: Slurm ----------------------------------------------------------------------
PLAN        ?= figure2
SBATCH_ARGS ?=
DRY_RUN     ?=
PLAN_ARGS    = $(PLAN) --dataset $(DATASET) --split $(SPLIT) --runs $(RUNS) --data $(DATA)

.PHONY: slurm status check-plan
check-plan:
	$(call require,$(call one_of,$(PLAN),$(PLAN_PLANS)),unknown PLAN '$(PLAN)': use $(call or_list,$(PLAN_PLANS)))

slurm: check-plan check-args caffe setup ## PLAN=<PLAN_PLANS>: one Slurm job per network, transfers after their bases [SBATCH_ARGS=.. DRY_RUN=1]
	@$(TRANSFERABILITY) slurm $(PLAN_ARGS) $(if $(ITERS),--iters $(ITERS)) \
	  $(if $(GPU),--gpu) $(if $(IMAGENET),--make-var IMAGENET=$(IMAGENET)) \
	  $(foreach v,KEEP_SNAPSHOTS DISK_MARGIN ENCODED SKIP_BAD_IMAGES,$(if $(filter command line,$(origin $(v))),--make-var $(v)=$($(v)))) \
	  --sbatch-args=$(call shell_quote,$(SBATCH_ARGS)) $(if $(DRY_RUN),--dry-run)

status: check-plan setup ## PLAN=<PLAN_PLANS>: each network finished (top-1), running, waiting or failed
	@$(TRANSFERABILITY) status $(PLAN_ARGS)

# --- the folders a goal writes into: each checked first, one line and exit 2 where it cannot be
# $(call unwritable,DIR): the nearest folder that exists at or above DIR when no file can be made
# in it (a file in the way counts too); empty when one can.
unwritable = $(shell d=$(call shell_quote,$(abspath $(1))); while [ ! -e "$$d" ]; do d=$$(dirname "$$d"); done; \
  t=$$(mktemp -p "$$d" .writable.XXXXXX 2>/dev/null) && rm -f "$$t" || echo "$$d")
# $(call check_writable,VAR,GOALS[,DIR]): stop when one of GOALS is asked for and VAR's folder
# (or DIR) cannot be written.
check_writable = $(if $(filter $(2),$(MAKECMDGOALS)),$(if $(call unwritable,$(or $(3),$($(1)))),$(error $(1)=$($(1)) cannot be written (no file can be made in $(call unwritable,$(or $(3),$($(1))))); make it writable or choose another $(1))))
TRAINING_GOALS := base-A base-B transfer random whole reduced figure2 paper noise study slurm \
  factors factors-grid estimators similarity %/final.caffemodel
$(call check_writable,RUNS,demo $(TRAINING_GOALS) report figures compare)
$(call check_writable,DATA,demo data data-digits factors-grid estimators %.done)
$(call check_writable,FIGURES,demo figure2 figures figures-paper factors)
$(call check_writable,RESULTS,study publish)
$(call check_writable,REPORT,demo report,$(dir $(REPORT)))
$(call check_writable,FACTORS_OUT,factors-grid estimators)
$(call check_writable,ESTIMATORS_OUT,estimators)
$(call check_writable,SIMILARITY_OUT,similarity)

# --- set-up, tests, benchmarks, and the included fragments -----------------------------------
$(VENV)/.stamp: pyproject.toml
	@$(PYTHON3) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	  || { echo "error: Python 3.11 is needed (PYTHON3=$(PYTHON3) is $$($(PYTHON3) --version))" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV) >/dev/null \
	  || { echo "error: $(PYTHON3) -m venv $(VENV) failed; on Debian: apt-get install python3-venv, then make setup" >&2; exit 1; }
	@$(PY) -m pip install -q --upgrade pip && $(PY) -m pip install -q -e '.[test]' \
	  || { echo "error: pip could not install the package into $(VENV) (its error is above); $$(bash $(HERE)/caffe_build/network_hint.sh 'the network to PyPI' 'make setup' pip)" >&2; exit 1; }
	@touch $@

# Every training target asks for setup, and parallel makes (make -j, Slurm jobs) start Python
# while another writes: caffe.pth changes only when it must, and by rename, never truncated.
setup: $(VENV)/.stamp ## .venv/ with the package, its dependencies and pycaffe on its path
	@pth=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/caffe.pth; \
	  want="$$(realpath -m $(CAFFE_HOME))/lib/python3/dist-packages"; \
	  [ "$$(cat "$$pth" 2>/dev/null)" = "$$want" ] \
	  || { echo "$$want" > "$$pth.$$$$" && mv -f "$$pth.$$$$" "$$pth"; }

ifdef CAFFE_BUILD
caffe: $(VENV)/.stamp ## build BVLC Caffe 1.0 (Debian's source package) into CAFFE_HOME (default .caffe/)
	@JOBS=$${JOBS:-$$(nproc)} CAFFE_QUIET=$(if $(filter caffe,$(MAKECMDGOALS)),,1) \
	  bash caffe_build/build.sh "$(CAFFE_HOME)" "$(PY)" $(CAFFE_FLAVOUR)
else
caffe: caffe-check
endif

caffe-check: ## check that CAFFE_HOME holds a working Caffe
	$(call require,$(wildcard $(CAFFE_HOME)/bin/caffe),no Caffe at CAFFE_HOME=$(CAFFE_HOME) (bin/caffe missing); unset CAFFE_HOME to build one)
	@"$(CAFFE_HOME)/bin/caffe" --version >/dev/null 2>&1 \
	  || { echo "error: $(CAFFE_HOME)/bin/caffe does not run" >&2; exit 1; }

# --- tests ------------------------------------------------------------------------------------
# Debian packages the tests read or start: WordNet for the natural/man-made split, the
# Fashion-MNIST IDX files, a one-node Slurm cluster, and a browser to open the HTML report.
TEST_DEBS := wordnet-base dataset-fashion-mnist slurm-wlm munge chromium

test-deps:
	@bash caffe_build/apt_install.sh "make test-deps" $(TEST_DEBS)

test: caffe setup test-deps ## build everything needed, then Caffe's tests of our layers and the suite
	@$(MAKE) --no-print-directory caffe-check
	@bash caffe_build/caffe_test.sh "$(CAFFE_HOME)" > $(HERE)/.cache/caffe-test.log 2>&1 \
	  || { tail -n 30 $(HERE)/.cache/caffe-test.log; echo "error: Caffe's own layer tests failed (log: .cache/caffe-test.log)" >&2; exit 1; }
	@tail -n 1 $(HERE)/.cache/caffe-test.log | sed 's/^/caffe-test: /'
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench-frozen: caffe setup ## caffe time of the frozen A7B over baseA, ImageNet CaffeNet (BENCHMARKS.md)
	OPENBLAS_NUM_THREADS=1 $(TRANSFERABILITY) bench-frozen

bench-imagenet: caffe setup ## ImageNet at 32 and 64 px: data rate, caffe time, the 170 nets' time and disk, projected
	OPENBLAS_NUM_THREADS=1 $(TRANSFERABILITY) bench-downsampled

bench: bench-frozen bench-data bench-cpu bench-imagenet ## every benchmark of BENCHMARKS.md

# The CPU engine: Debian's stock Caffe beside the patched one (and PyTorch, where TORCH_PYTHON is
# a Python that imports torch: a throwaway venv, no dependency of the project).
STOCK_CAFFE := $(HERE)/.caffe-stock
TORCH_PYTHON ?=
caffe-stock: $(VENV)/.stamp
	@CAFFE_STOCK=1 JOBS=$${JOBS:-$$(nproc)} bash caffe_build/build.sh "$(STOCK_CAFFE)" "$(PY)" cpu

bench-cpu: caffe setup caffe-stock ## stock vs patched Caffe (vs PyTorch: TORCH_PYTHON=...) on three nets, with memory
	$(TRANSFERABILITY) bench-cpu --stock $(STOCK_CAFFE) $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON))

caffe-test: caffe ## Caffe's own gtest suites (gradient checks too) of the layers our patches touch
	@bash caffe_build/caffe_test.sh "$(CAFFE_HOME)"

jobs: ## how many nets `make demo` trains at once here, and the threads each gets
	@echo "demo: $(JOBS) nets at a time, $(call net_threads,$(JOBS)) thread(s) each; this make: $(call net_threads,$(make_jobs)) thread(s) a net"

lint: setup ## ruff over the package, scripts (data_prep, caffe_build) and tests
	$(VENV)/bin/ruff check python data_prep tests caffe_build

# Rules for every network of the plan, generated from the plan package with no venv needed.
PLAN_MK := $(HERE)/.cache/plan.mk
$(PLAN_MK): $(wildcard python/transferability/plan/*.py)
	@mkdir -p $(@D)
	@PYTHONPATH=python $(PYTHON3) -m transferability.plan.makerules > $@.tmp && mv $@.tmp $@
include $(PLAN_MK)
ifneq ($(PLAN_DATASETS),)
ifneq ($(DOWNSAMPLE_ASKED),)
$(if $(filter $(PLAN_DOWNSAMPLED_SIZES),$(DOWNSAMPLE_ASKED)),,$(error SIZE=$(DOWNSAMPLE_ASKED): ImageNet comes downsampled to SIZE=$(call or_list,$(PLAN_DOWNSAMPLED_SIZES)) only))
else ifneq ($(and $(SIZE),$(filter $(PLAN_DOWNSAMPLED),$(DATASET))),)
$(if $(filter $(PLAN_IMAGE_$(DATASET)),$(SIZE)),,$(error DATASET=$(DATASET) is ImageNet at $(PLAN_IMAGE_$(DATASET)) pixels$(comma) not SIZE=$(SIZE): give one or the other))
endif
endif

# A user's own images: a DATASET=<name> that is not built in (IMAGES=/path the first time).
# data.mk describes them into DATA/<name>/; DATA/<name>/plan.mk, made from that description and
# included here, holds their networks' rules and the facts their data sets are built from. The
# name and the settings (IMAGES SIZE HALVES SHUFFLE WIDTH EPOCHS: a dataset's for good, as ITERS
# is a run folder's) are checked first, in one line (plan/own.py).
ifneq ($(PLAN_DATASETS),)
OWN := $(filter-out $(PLAN_DATASETS),$(DATASET))
own_output = $(shell PYTHONPATH=python $(PYTHON3) -m transferability.plan.own $(call shell_quote,$(DATA)) \
  $(call shell_quote,$(DATASET)) $(foreach v,IMAGES SIZE HALVES SHUFFLE WIDTH EPOCHS,$(call shell_quote,$(v)=$($(v)))))
ifneq ($(OWN),)
# the line that refuses the call, or `stale`: the class folders changed since they were described
own_check := $(own_output)
OWN_STALE := $(if $(filter stale,$(own_check)),$(if $(word 2,$(own_check)),,1))
$(if $(and $(own_check),$(if $(OWN_STALE),,1)),$(error $(own_check)))
OWN_RULES := $(DATA)/$(OWN)/plan.mk
# Before the images are first described there are no rules to include: an empty stand-in that
# always exists is included and made by making the real one, so that a folder refused is one line
# (the describe step's), not also make's about a missing file.
OWN_FIRST := $(HERE)/.cache/own.mk
$(if $(wildcard $(OWN_FIRST)),,$(shell mkdir -p $(dir $(OWN_FIRST)) && touch $(OWN_FIRST)))
include $(if $(wildcard $(OWN_RULES)),$(OWN_RULES),$(OWN_FIRST))
$(OWN_RULES) $(OWN_FIRST): $(DATA)/$(OWN)/dataset.json $(wildcard python/transferability/plan/*.py)
	@PYTHONPATH=python $(PYTHON3) -m transferability.plan.makerules --own $(call shell_quote,$(OWN)) \
	  $(call shell_quote,$(DATA)) > $(OWN_RULES).tmp && mv $(OWN_RULES).tmp $(OWN_RULES) && touch $@
$(DATA)/$(OWN)/dataset.json: | $(VENV)/.stamp
else ifneq ($(IMAGES),)
$(if $(filter file,$(origin DATASET)),$(error IMAGES=$(IMAGES) needs DATASET=<name>: a name of your own for these images))
$(error $(own_output))
endif
endif
include data_prep/data.mk
include caffe_build/gpu.mk
# data.mk's recipes run the venv's python, and write Datum and BlobProto with Caffe's caffe_pb2;
# bench-data times the real convert_imageset too.
CAFFE_PB2 := $(CAFFE_HOME)/lib/python3/dist-packages/caffe/proto/caffe_pb2.py
$(CAFFE_PB2):
	@$(MAKE) --no-print-directory caffe
# (ImageNet's and a user's sets are first written as whole_train and whole_valid, every other
# one copied out of them: those two wait for Caffe, not only the stamps that name them all)
$(FASHION_MNIST_STAMPS) $(IMAGENET_STAMPS) $(DIGITS_STAMP): | $(VENV)/.stamp $(CAFFE_PB2)
$(foreach d,$(IN_DATA) $(if $(OWN),$(OWN_DATA)),$(foreach p,train valid,$(d)/whole_$(p)/lmdb.done)): \
  | $(VENV)/.stamp $(CAFFE_PB2)
$(IN_DATA)/lists.done: | $(VENV)/.stamp
data: | $(VENV)/.stamp
bench-data: caffe setup
