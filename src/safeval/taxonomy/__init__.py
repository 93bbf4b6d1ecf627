"""Risk taxonomies as data: what a benchmark's categories mean, and their hierarchy."""

from safeval.taxonomy.tree import Node, Taxonomy, load_taxonomy

__all__ = ["Node", "Taxonomy", "load_taxonomy"]
