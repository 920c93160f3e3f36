"""Audio in, labelled items out: loading and converting audio, the three dataset forms,
label maps (built-in ones as YAML in labelmaps/), the grouped split, the synthetic scene set.
"""
