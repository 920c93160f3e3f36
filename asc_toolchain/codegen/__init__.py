"""C code generation: the network (int8 kernels) and the feature front end, from a run."""
