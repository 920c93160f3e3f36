"""The board's serial side: opening ports, the framed host feed, result lines, the monitor.
"""
