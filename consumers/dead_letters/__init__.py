"""Keeps a durable, searchable copy of every dead letter for operators."""
