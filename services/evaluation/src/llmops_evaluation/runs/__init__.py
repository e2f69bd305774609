"""Datasets and offline runs (issue 9 §3, docs/adr/0028): immutable dataset versions, runs of a dataset version
with a variant through the gateway, their comparison, the CI gate and the counterfactual bias check."""
