"""Learning from what happened: distributions kept from completed legs (`knowledge`), what one unit's history
teaches (`observe`), and the arrival forecast composed from them (`forecast`). See docs/learning.md."""

from streams.core.learning.forecast import Forecast
from streams.core.learning.knowledge import Knowledge
from streams.core.learning.sketch import Sketch

__all__ = ["Forecast", "Knowledge", "Sketch", "segment_quantiles"]


def segment_quantiles(knowledge: Knowledge | None, origin: str, destination: str, mode: str,
                      carrier: str | None = None) -> tuple[float, float, float] | None:  # fmt: skip
    """Learned transit of a segment (minutes: p10, p50, p90), per carrier where there is enough data, else per
    segment; None when there is too little data. For re-deriving a diverted unit's remaining route."""
    if knowledge is None:
        return None
    from streams.core.learning.knowledge import transit_keys

    return knowledge.first(transit_keys(origin, destination, mode, carrier))
