"""RequestRecord: everything measured about one request, kept raw in the JSON output.

Definitions (all times in seconds, from ``time.perf_counter``):

- TTFT: from sending the request to the first SSE event whose choices carry non-empty
  content (``delta.content``, ``delta.reasoning_content`` or, for /v1/completions,
  ``text``). Role-only and empty first events do not count. This is llmperf's definition.
- ITL: the gaps between consecutive content events (events that arrive in one read are
  0 s apart: that is what the client saw).
- E2E: from sending the request to the end of the stream.
- TPOT: ``(E2E - TTFT) / (output_tokens - 1)``, for answers of two tokens or more.
- output tokens: ``usage.completion_tokens`` of the final usage event (the request asks
  for it with ``stream_options.include_usage``); else the number of content events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

TokenSource = Literal["usage", "events"]

TTFT_DEFINITION = (
    "TTFT = time from sending the request to the first SSE event whose choices carry "
    "non-empty content (delta.content / text), llmperf's definition"
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the client saw it; ``error`` is None when it succeeded."""

    target: str
    level: float
    index: int
    prompt_id: str
    prompt_kind: str
    warmup: bool
    start_s: float  # when it was sent, from the start of its level
    ttft_s: float | None = None
    e2e_s: float | None = None
    itl_s: tuple[float, ...] = ()
    output_tokens: int = 0
    token_source: TokenSource = "events"
    prompt_tokens: int | None = None
    status: int | None = None
    tier: str | None = None
    rule: str | None = None  # x-stratum-rule: why Stratum chose that tier
    failover: bool = False  # x-stratum-failover: the other tier answered
    error: str | None = None

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first; None below two tokens."""
        if self.ttft_s is None or self.e2e_s is None or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON output, TPOT included."""
        data = asdict(self)
        data["itl_s"] = list(self.itl_s)
        data["tpot_s"] = self.tpot_s
        return data
