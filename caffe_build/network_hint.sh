#!/usr/bin/env bash
# What a set-up step's error line tells the user to do when the network failed it, with the
# lever for a TLS-inspecting proxy that fits where it runs: in the image (TRANSFERABILITY_IMAGE,
# `build` in the Dockerfile's build stage, `run` in the image itself) the image's build argument,
# since the certificates it trusts come from there; elsewhere PIP_CERT for pip.
#
#   caffe_build/network_hint.sh WHAT RETRY [pip]
#
# prints "check WHAT (behind a TLS-inspecting proxy: LEVER), then RETRY"; in the build stage the
# retry is the docker build itself.
what=${1:?usage: network_hint.sh WHAT RETRY [pip]}
retry=${2:?usage: network_hint.sh WHAT RETRY [pip]}
case "${TRANSFERABILITY_IMAGE:-}" in
  build|run)
    lever='build the image with --build-arg EXTRA_CA_CERTS="$(cat proxy-ca.crt)", or make docker-test EXTRA_CA=proxy-ca.crt'
    [ "$TRANSFERABILITY_IMAGE" = run ] || retry="docker build again";;
  *) lever=; [ "${3:-}" != pip ] || lever="PIP_CERT=/path/to/ca.crt";;
esac
echo "check $what${lever:+ (behind a TLS-inspecting proxy: $lever)}, then $retry"
