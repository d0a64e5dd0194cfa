"""Yosinski et al. (2014) transferability study driven by BVLC Caffe."""

__version__ = "0.1.0"
