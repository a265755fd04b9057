"""Tinybird-compatible REST pipes over the GraphQL schema (../shared/contract/pipes.md)."""

from gateway.pipes.catalog import PIPES
from gateway.pipes.params import RestError
from gateway.pipes.pipe import Pipe
from gateway.pipes.runner import document, run_pipe

__all__ = ["PIPES", "Pipe", "RestError", "document", "run_pipe"]
