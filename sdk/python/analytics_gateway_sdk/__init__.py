"""Track product events, API requests, predictions and metrics into the analytics gateway.

`Tracker` queues rows and sends them from a background thread; `AnalyticsMiddleware`
records every HTTP request of an ASGI app through a tracker.
"""

from analytics_gateway_sdk.middleware import AnalyticsMiddleware
from analytics_gateway_sdk.tracker import Tracker, TrackerOptions

__all__ = ["AnalyticsMiddleware", "Tracker", "TrackerOptions"]
