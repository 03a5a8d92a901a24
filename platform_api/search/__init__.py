"""The search service: POC search index fed by events, typo-tolerant queries, facets."""
