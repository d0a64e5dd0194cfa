# The project in a container: Debian 12, BVLC Caffe 1.0 built by the Makefile's own `make caffe
# setup` (CUDA 11.8 from Debian's non-free toolkit, sm_70, 80, 86, 89, 90 and PTX; or the CPU), the
# venv, Fashion-MNIST, and `make` in /work as the command. README.md, "GPU and container", has the
# commands; `make docker-test` builds and runs them with a Docker engine.
#
#   docker build -t transferability .                                     the CUDA image
#   docker build --build-arg CAFFE_FLAVOUR=cpu -t transferability:cpu .   the CPU image
#   --build-arg EXTRA_CA_CERTS="$(cat proxy-ca.crt)"   PEM certificates to trust as well (a
#                                                      TLS-inspecting proxy); empty by default
#
# Two stages: `build` installs the compilers, -dev packages and the CUDA toolkit, builds Caffe and
# the venv; the final stage holds Caffe, the libraries it loads (caffe_build/runtime_libs.sh), the
# venv and the project, and nothing to compile with.

FROM debian:bookworm AS build
ARG CAFFE_FLAVOUR=cuda
ARG EXTRA_CA_CERTS=
# TRANSFERABILITY_IMAGE: a set-up step that fails here names the build argument as the lever
# for a TLS-inspecting proxy (caffe_build/network_hint.sh), not PIP_CERT.
ENV CAFFE_FLAVOUR=${CAFFE_FLAVOUR} LANG=C.UTF-8 TRANSFERABILITY_IMAGE=build

# The base image's own libraries (the final stage has them too), then what a fresh Debian 12
# needs before `make`: make, and Python 3.11 with venv and headers.
RUN find /usr/lib -name '*.so*' -exec realpath -m {} + | sort -u > /base-libs.txt \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates make python3 python3-dev python3-venv \
 && if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra-ca.crt \
      && update-ca-certificates; fi

# The Makefile's recipe: Caffe's build dependencies (and Debian's CUDA toolkit) from Debian, Caffe
# into /work/.caffe, .venv/ with the package and pycaffe. Only what that reads comes first, so that
# changes to the rest (docs, tests, results, the data scripts) do not build Caffe again.
WORKDIR /work
COPY Makefile pyproject.toml /work/
COPY caffe_build/build.sh caffe_build/mirror.sh caffe_build/apt_install.sh caffe_build/install_cuda.sh \
     caffe_build/network_hint.sh caffe_build/gpu.mk /work/caffe_build/
COPY caffe_build/patches /work/caffe_build/patches
COPY data_prep/data.mk /work/data_prep/
COPY python /work/python
RUN if [ -n "$EXTRA_CA_CERTS" ]; then export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; fi \
 && make caffe setup \
 && rm -rf /work/.caffe/.work /root/.cache
COPY . /work
RUN bash caffe_build/runtime_libs.sh copy /runtime /base-libs.txt /work/.caffe /work/.venv \
 && make -s help >/dev/null

FROM debian:bookworm
ARG CAFFE_FLAVOUR=cuda
# TRANSFERABILITY_SLIM_IMAGE: build.sh says that building here must install compilers first.
ENV CAFFE_FLAVOUR=${CAFFE_FLAVOUR} \
    LANG=C.UTF-8 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    TRANSFERABILITY_SLIM_IMAGE=1 \
    TRANSFERABILITY_IMAGE=run \
    MPLCONFIGDIR=/tmp/matplotlib

# The extra certificates (none by default) are trusted here too; the runtime's Debian packages.
COPY --from=build /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates make python3 dataset-fashion-mnist \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /runtime/ /
COPY --from=build /work /work
WORKDIR /work
# Any user may run the image (docker run -u "$(id -u):$(id -g)"): nothing under /work is written
# by `make` except the volumes.
RUN ldconfig \
 && bash caffe_build/runtime_libs.sh check /work/.caffe /work/.venv \
 && make -s caffe-check setup

# Data (the LMDBs that `make data` writes) and the runs outlive the container; mount the raw
# ImageNet anywhere, e.g. /data/imagenet, and pass IMAGENET=/data/imagenet.
VOLUME ["/work/data", "/work/runs"]
CMD ["make", "help"]
