"""Evaluation: one table of engines (who computes the predictions) and the metrics.
"""
