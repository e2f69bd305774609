"""A/B verdicts on the gateway's experiments (issue 9 §5): statistics, history reads, decisions."""
