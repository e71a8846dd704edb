"""Shared model of the gitops/ tree: kustomize builds, Flux substitution, cluster expansion, checks."""
