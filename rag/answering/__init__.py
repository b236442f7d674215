"""Answering: from retrieved chunks to a typed Answer (evidence, reader, writers, cross-source checks)."""
