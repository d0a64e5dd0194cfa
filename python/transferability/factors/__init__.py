"""The factors study (Azizpour et al. 2014): off-the-shelf features of a frozen net, their HDF5
store, linear SVMs on them, the study and its report."""
