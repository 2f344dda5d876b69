"""synthgate.quality: the data contract, utility metrics and reports."""
