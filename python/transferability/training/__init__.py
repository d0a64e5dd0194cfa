"""Training: run folders and the real `caffe train`, its logs, Slurm jobs, and where each
network of a plan stands."""
