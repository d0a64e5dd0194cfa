# Data preparation: a fragment the top-level Makefile includes.
#
# Expects PY (the venv's python), CAFFE_HOME (bench-data only) and the function shell_quote; uses
# DATA, DATASET, IMAGENET and FASHION_MNIST, with the defaults below when the top Makefile leaves
# them unset, and for a user's own images OWN (their DATASET name), OWN_STALE, IMAGES and the facts
# of DATA/<name>/plan.mk.
# Own knobs: WORDNET (WordNet 3.0 dict folder), DATA_RESIZE (256), DATA_WORKERS (CPU count),
# LISTS_ARGS (more make_lists.py arguments, e.g. --val-list /path/to/caffe/val.txt),
# ENCODED=1 (ImageNet records as JPEG, decoded by Caffe's data layer; default raw, as the paper),
# SKIP_BAD_IMAGES=1 (leave out unreadable or truncated images, listed in whole_*/skipped.txt;
# default: such an image stops the build), DISK_MARGIN (space to leave free, e.g. 50G).
#
# A user's own images: IMAGES, SIZE, HALVES, SHUFFLE, WIDTH, EPOCHS and SKIP_BAD_IMAGES
# (data_prep/describe_images.py says what each does).
#
# Layout, for D = fashion-mnist, imagenet or a user's own and NAME = whole, half0A..half3B, halfnatmanA/B and
# reduced0001..reduced1300 (the first N training images of each class):
#   $(DATA)/D/NAME_train/{lmdb/,mean.binaryproto}  and  $(DATA)/D/NAME_valid/lmdb/
#   (ImageNet, own: files.txt in each; halves: idxmap.txt in each; reduced sets: no NAME_valid)
# $(DATA)/D/NAME.done is the stamp that says NAME's LMDBs and mean are complete.
# ImageNet's and a user's halves and reductions are copied out of whole_{train,valid}/lmdb, never
# decoded again.

DATA_PREP := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# A source the user named must exist; a default one may be installed from Debian.
DATA_FM_GIVEN := $(filter-out file undefined default,$(origin FASHION_MNIST))
DATA_WN_GIVEN := $(filter-out file undefined default,$(origin WORDNET))

DATA ?= data
DATASET ?= fashion-mnist
FASHION_MNIST ?= /usr/share/datasets/fashion-mnist
WORDNET ?= /usr/share/wordnet
DATA_RESIZE ?= 256
DATA_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

# the plan's lists, from the generated make fragment the top Makefile includes first
DATA_HALVES := $(PLAN_DATA_HALVES)
DATA_REDUCED := $(PLAN_DATA_REDUCED)
FM_DATA := $(DATA)/fashion-mnist
# ImageNet downsampled (DATASET=imagenet SIZE=32, that is imagenet32): the ImageNet steps below
# into a folder of its own, DATA/imagenet32, each image's shorter side resized to its size and
# the centre square kept.
IN_SMALL := $(filter $(PLAN_DOWNSAMPLED),$(DATASET))
IN_DATA := $(DATA)/$(or $(IN_SMALL),imagenet)
IN_RESIZE := $(if $(IN_SMALL),$(PLAN_IMAGE_$(IN_SMALL)) --short-side,$(DATA_RESIZE))

# The stamps other targets depend on.
FASHION_MNIST_STAMPS := $(foreach n,whole $(DATA_HALVES) $(DATA_REDUCED),$(FM_DATA)/$(n).done)
IMAGENET_PAIRED := $(foreach n,whole $(DATA_HALVES),$(IN_DATA)/$(n).done)
IMAGENET_REDUCED := $(foreach n,$(DATA_REDUCED),$(IN_DATA)/$(n).done)
IMAGENET_STAMPS := $(IMAGENET_PAIRED) $(IMAGENET_REDUCED)
OWN_DATA := $(DATA)/$(OWN)
OWN_PAIRED := $(foreach n,whole $(OWN_DATA_HALVES),$(OWN_DATA)/$(n).done)
OWN_REDUCED := $(foreach n,$(OWN_DATA_REDUCED),$(OWN_DATA)/$(n).done)
DATA_STAMPS := $(if $(OWN),$(OWN_PAIRED) $(OWN_REDUCED),$(if $(filter imagenet $(IN_SMALL),$(DATASET)),$(IMAGENET_STAMPS),$(FASHION_MNIST_STAMPS)))

# (a fresh clone reads this once before make has written plan.mk: the lists are empty then, and the
# checks wait for make's second read, after plan.mk is made)
ifneq ($(filter data,$(MAKECMDGOALS)),)
ifneq ($(PLAN_DATASETS),)
ifeq ($(filter $(PLAN_DATASETS) $(OWN),$(DATASET)),)
$(error DATASET=$(DATASET) is not one of: $(PLAN_DATASETS))
endif
ifeq ($(if $(IN_SMALL),imagenet,$(DATASET))$(strip $(IMAGENET)),imagenet)
$(error DATASET=$(DATASET) needs the ILSVRC-2012 folder: pass IMAGENET=/path/to/ILSVRC2012)
endif
ifeq ($(if $(IN_SMALL),imagenet,$(DATASET))$(wildcard $(IMAGENET)),imagenet)
$(error no ILSVRC-2012 at IMAGENET=$(IMAGENET) (expected a folder with train/ and val/))
endif
endif
endif

.PHONY: data bench-data

data: $(DATA_STAMPS) ## build DATASET's LMDBs and means (default fashion-mnist; imagenet: IMAGENET=dir; your own: DATASET=<name> IMAGES=dir)

bench-data: ## time build_lmdb.py against Caffe's convert_imageset on 1000 generated JPEGs
	CAFFE_HOME="$(CAFFE_HOME)" OPENBLAS_NUM_THREADS=1 $(PY) $(DATA_PREP)/bench_data.py $(BENCH_DATA_ARGS)

# $(call data_apt,PACKAGE,WHAT): install a missing Debian package; caffe_build/apt_install.sh
# refreshes apt's lists when the package is not found and says in one line what failed.
data_apt = bash caffe_build/apt_install.sh "make data ($(2) missing)" $(1)

# --- Fashion-MNIST -----------------------------------------------------------------------------
# A recipe step, not a phony prerequisite: a phony one would run (and maybe apt-get) on every
# training command, even when every stamp is up to date.
data_fm_source = test -e "$(FASHION_MNIST)/train-images-idx3-ubyte.gz" -o -e "$(FASHION_MNIST)/train-images-idx3-ubyte" \
	  || $(if $(DATA_FM_GIVEN),{ echo "error: no Fashion-MNIST at FASHION_MNIST=$(FASHION_MNIST) (expected train-images-idx3-ubyte[.gz] and the other IDX files)" >&2; exit 2; },$(call data_apt,dataset-fashion-mnist,$(FASHION_MNIST)))

# One process builds them all (about 8 s): reading the IDX files once is most of the work.
$(FASHION_MNIST_STAMPS) &:
	@$(data_fm_source)
	$(PY) $(DATA_PREP)/fashion_mnist.py --source "$(FASHION_MNIST)" --out $(FM_DATA)
	@touch $(FASHION_MNIST_STAMPS)

# --- the factors grid's far target: scikit-learn's bundled digits (no download) --------------
DIGITS_STAMP := $(DATA)/digits/digits.done
.PHONY: data-digits
data-digits: $(DIGITS_STAMP) ## the factors grid's far target: scikit-learn's digits at 28x28
$(DIGITS_STAMP):
	$(PY) $(DATA_PREP)/digits.py --out $(DATA)/digits
	@touch $@

# --- ImageNet: lists, splits, the two whole LMDBs, everything else copied out of them ----------
# Checks as recipe steps too (see data_fm_source).
data_wn_source = test -e "$(WORDNET)/data.noun" \
	  || $(if $(DATA_WN_GIVEN),{ echo "error: no WordNet at WORDNET=$(WORDNET) (expected data.noun)" >&2; exit 2; },$(call data_apt,wordnet-base,$(WORDNET)))

# The lists are made again whenever a folder they come from changes (a file added or removed:
# the folder's time changes); make_lists.py rewrites only a list whose content changed, and the
# LMDBs depend on the lists themselves, so only a real change rebuilds them.
IN_SOURCES := $(if $(IMAGENET),$(wildcard $(IMAGENET)/train $(IMAGENET)/val $(IMAGENET)/train/n*/ \
  $(IMAGENET)/val/n*/ $(IMAGENET)/val.txt $(IMAGENET)/ILSVRC2012_devkit_t12/data/*))
IN_LISTS := $(IN_DATA)/whole_train/files.txt $(IN_DATA)/whole_valid/files.txt

$(IN_DATA)/lists.done: $(IN_SOURCES)
	@test -n "$(IMAGENET)" || { echo "error: pass IMAGENET=/path/to/ILSVRC2012 (the folder with train/ and val/)" >&2; exit 2; }
	$(PY) $(DATA_PREP)/make_lists.py "$(IMAGENET)" --out $(IN_DATA) $(if $(IN_SMALL),--ilsvrc2012) $(LISTS_ARGS)
	@touch $@
$(IN_LISTS): $(IN_DATA)/lists.done ;

$(IN_DATA)/splits.done: $(IN_LISTS)
	@$(data_wn_source)
	$(PY) $(DATA_PREP)/make_splits.py --train $(IN_DATA)/whole_train/files.txt \
	  --val $(IN_DATA)/whole_valid/files.txt --out $(IN_DATA) --wordnet "$(WORDNET)"
	@touch $@

# Before it writes, each LMDB step checks that the LMDBs this call still builds fit (one line and
# exit 2 if not). Each train LMDB's mean image is computed while the LMDB is written.
data_space = --space-plan $(IN_DATA) --goals '$(or $(MAKECMDGOALS),data)'
DATA_BUILD_LMDB = $(PY) $(DATA_PREP)/build_lmdb.py --force --resize $(IN_RESIZE) --workers $(DATA_WORKERS) \
  $(if $(filter 1,$(ENCODED)),--encoded) $(if $(filter 1,$(SKIP_BAD_IMAGES)),--skip-bad) \
  --report $(@D)/skipped.txt $(data_space)
data_derive = $(PY) $(DATA_PREP)/derive_lmdb.py --force $(1)/whole_$(2)/files.txt $(1)/whole_$(2)/lmdb \
  --skipped $(1)/whole_$(2)/skipped.txt $(if $(filter $(IN_DATA),$(1)),$(data_space))

# $(call image_sets,DIR,BUILD,TRAIN_ROOT,VALID_ROOT,LISTED,HALVES REDUCED,HALVES,PAIRED,REDUCED):
# the LMDBs of DIR (DATA/imagenet, a user's own): whole_train and whole_valid from the images
# under the folders in variables TRAIN_ROOT and VALID_ROOT (names: a folder's path may hold a
# comma) by the command in variable BUILD, every half and reduced set
# copied out of them by `data_derive` once its list is made (the pattern LISTED), then the stamps
# PAIRED (train and valid) and REDUCED (train only).
define image_sets
$(1)/whole_train/lmdb.done: $(1)/whole_train/files.txt
	$$($(2)) $$(call shell_quote,$$($(3))) $$(@D)/files.txt $$(@D)/lmdb --mean $$(@D)/mean.binaryproto
	@touch $$@

$(1)/whole_valid/lmdb.done: $(1)/whole_valid/files.txt
	$$($(2)) $$(call shell_quote,$$($(4))) $$(@D)/files.txt $$(@D)/lmdb
	@touch $$@

$(foreach n,$(6),$(1)/$(n)_train/lmdb.done): $(1)/%/lmdb.done: $(5) $(1)/whole_train/lmdb.done
	$$(call data_derive,$(1),train) $$(@D)/files.txt $$(@D)/lmdb --mean $$(@D)/mean.binaryproto
	@touch $$@

$(foreach n,$(7),$(1)/$(n)_valid/lmdb.done): $(1)/%/lmdb.done: $(5) $(1)/whole_valid/lmdb.done
	$$(call data_derive,$(1),valid) $$(@D)/files.txt $$(@D)/lmdb
	@touch $$@

$(8): $(1)/%.done: $(1)/%_train/lmdb.done $(1)/%_valid/lmdb.done
	@touch $$@

$(9): $(1)/%.done: $(1)/%_train/lmdb.done
	@touch $$@
endef

IN_TRAIN_ROOT = $(IMAGENET)/train
IN_VALID_ROOT = $(IMAGENET)/val
$(eval $(call image_sets,$(IN_DATA),DATA_BUILD_LMDB,IN_TRAIN_ROOT,IN_VALID_ROOT,$(IN_DATA)/splits.done,$(DATA_HALVES) $(DATA_REDUCED),$(DATA_HALVES),$(IMAGENET_PAIRED),$(IMAGENET_REDUCED)))

# --- a user's own images: described once (lists and DATA/<name>/dataset.json), then built as
# ImageNet is. The description is read again when a class folder changes; images that changed
# since are refused (describe_images.py).
ifneq ($(OWN),)
own_arg = $(if $($(1)),--$(2) $(call shell_quote,$($(1))))
OWN_ARGS := $(call own_arg,SIZE,size) $(call own_arg,HALVES,halves) $(call own_arg,SHUFFLE,shuffle) \
  $(call own_arg,WIDTH,width) $(call own_arg,EPOCHS,epochs) $(if $(filter 1,$(SKIP_BAD_IMAGES)),--skip-bad)

# The class folders are never words of a rule (any name a file system allows is a class): the
# Makefile's check says when they changed since the description (OWN_STALE), which makes it again.
.PHONY: own-images-changed
own-images-changed: ;
$(OWN_DATA)/dataset.json: $(if $(OWN_STALE),own-images-changed)
	$(PY) $(DATA_PREP)/describe_images.py $(if $(IMAGES),$(call shell_quote,$(IMAGES))) --out $(OWN_DATA) \
	  $(OWN_ARGS) --workers $(DATA_WORKERS)
$(OWN_DATA)/%/files.txt: $(OWN_DATA)/dataset.json ;

OWN_BUILD_LMDB = $(PY) $(DATA_PREP)/build_lmdb.py --force --resize $(OWN_SIZE) --workers $(DATA_WORKERS) \
  $(if $(filter 1,$(OWN_CHANNELS)),--gray) --num-classes $(OWN_CLASSES) \
  $(if $(filter 1,$(SKIP_BAD_IMAGES)),--skip-bad) --report $(@D)/skipped.txt

$(eval $(call image_sets,$(OWN_DATA),OWN_BUILD_LMDB,OWN_IMAGES,OWN_IMAGES,$(OWN_DATA)/%/files.txt,$(OWN_DATA_HALVES) $(OWN_DATA_REDUCED),$(OWN_DATA_HALVES),$(OWN_PAIRED),$(OWN_REDUCED)))
endif
