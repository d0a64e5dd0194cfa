"""Benchmarks (BENCHMARKS.md): the frozen transfer's `caffe time`, and the LMDB builder against
`convert_imageset`."""
