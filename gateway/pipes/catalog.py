"""The nine Tinybird pipes, by name (../shared/contract/pipes.md).

Each pipe selects fields of a product or a model (the runner wraps the
selection in one document that reads one entity or pages through all the
caller may see) and turns one entity's answer into rows with the pipe's
columns, in snake_case.
"""

from __future__ import annotations

from gateway.pipes.models import MODEL_PIPES
from gateway.pipes.pipe import Pipe
from gateway.pipes.products import PRODUCT_PIPES

PIPES: dict[str, Pipe] = {**PRODUCT_PIPES, **MODEL_PIPES}
