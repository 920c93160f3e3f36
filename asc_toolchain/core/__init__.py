"""Infrastructure every stage shares and no target owns: errors, options and config, the one
subprocess executor, the tool locator, run directories, progress bars, plots, `doctor`.
"""
