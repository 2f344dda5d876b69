"""synthgate.privacy: the privacy boundary, mechanisms, accounting, DP models and risk checks."""
