"""Results: tables of the run folders, Figure 2's treatments, the published numbers, the figures,
and the comparison with the paper."""
