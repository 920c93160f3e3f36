"""Foundation commands: train, evaluate, datasets, config, doctor, bench."""

commands = []
