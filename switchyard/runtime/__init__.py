"""Shared runtime: server bootstrap, configuration, logging, errors, metrics."""
