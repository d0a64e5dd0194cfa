# The project in a container: Debian 12, BVLC Caffe 1.0 built by the Makefile with CUDA 11.8 (Debian's
# non-free toolkit; sm_70, 80, 86, 89, 90 and PTX), the venv, and `make` in /work as the command.
#
#   docker build -t transferability .
#   docker run --gpus all -v /data/ILSVRC2012:/data/imagenet:ro -v $PWD/data:/work/data \
#     -v $PWD/runs:/work/runs transferability make base-A base-B IMAGENET=/data/imagenet GPU=0
#
# A CPU-only image: docker build --build-arg CAFFE_FLAVOUR=cpu -t transferability:cpu .
# Without a Docker engine, `make docker-check` replays these steps in a debootstrapped Debian 12.
FROM debian:bookworm

# cuda or cpu; kept in the image so that `make` there finds the Caffe built here
ARG CAFFE_FLAVOUR=cuda
ENV CAFFE_FLAVOUR=${CAFFE_FLAVOUR} \
    LANG=C.UTF-8 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# What a fresh Debian 12 machine needs before `make`: make, and Python 3.11 with venv and headers.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates make python3 python3-dev python3-venv \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /work
COPY . /work

# The Makefile's own recipe: Caffe's build dependencies (and Debian's CUDA toolkit) from Debian,
# Caffe into /work/.caffe, then .venv/ with the package and pycaffe.
RUN make caffe setup \
 && rm -rf /var/lib/apt/lists/* /root/.cache

# Data (the LMDBs that `make data` writes) and the runs outlive the container; mount the raw
# ImageNet anywhere, e.g. /data/imagenet, and pass IMAGENET=/data/imagenet.
VOLUME ["/work/data", "/work/runs"]
CMD ["make", "help"]
