"""How vLLM is launched, read once for the checker and the simulation: the engine's command line (`launch`),
the bit of POSIX sh it hides in (`shell`), and KServe's runtime + predictor merge (`kserve`)."""
