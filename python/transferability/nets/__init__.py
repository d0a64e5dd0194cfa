"""The networks: the one CaffeNet definition, its solvers, the generated prototxt, the make
rules of the plan, and the transplant of trained layers into a transfer net."""
