"""Data preparation: ImageNet lists, the paper's splits, LMDBs of Datum, means, Fashion-MNIST.

Nothing here imports pycaffe: Datum and BlobProto are written by `protowire`, byte for byte as
Caffe's C++ tools write them, so the data can be prepared before Caffe is built.
"""
