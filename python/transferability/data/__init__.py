"""Data preparation: ImageNet lists, the paper's splits, LMDBs of Datum, means, Fashion-MNIST.

Datum and BlobProto are written with Caffe's own `caffe_pb2` (`transferability.caffe_io`), loaded
from CAFFE_HOME without pycaffe's compiled module, so the data tools need a built Caffe but start
quickly.
"""
