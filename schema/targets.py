"""What an alert or an insight is about: the contract's AlertTarget enum."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class AlertTarget(Enum):
    PRODUCT = "PRODUCT"
    ENDPOINT = "ENDPOINT"
    MODEL = "MODEL"
    METRIC = "METRIC"
