"""What the analysis concludes, as dicts keyed like the JSON report (docs/REPORT_SCHEMA.md) that
also read well when printed. Keys are attributes too: ``b["operation"] == b.operation``."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List

__all__ = ["Bottleneck", "Recommendation", "Trend", "Findings", "format_seconds"]


def format_seconds(s: float) -> str:
    """850 us, 30.2 ms, 1.25 s."""
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


class _Record(dict):
    """A dict whose keys are also attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no key '{name}' (keys: {', '.join(self)})") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


class Bottleneck(_Record):
    """operation, type, avg_duration (s), p95_duration (s), calls, total_time (s), self_time (s),
    share_of_wall (0..1), severity (critical/warning/share), optimization_priority (high/medium/low),
    reason (one line with the numbers)."""

    __slots__ = ()

    def __str__(self) -> str:
        return (f"[{self['optimization_priority']}] {self['operation']} ({self['type']}): "
                f"mean {format_seconds(self['avg_duration'])}, p95 {format_seconds(self['p95_duration'])}, "
                f"{self['calls']} calls, {100.0 * self['share_of_wall']:.1f} % of the run\n"
                f"    {self['reason']}")


class Recommendation(_Record):
    """id (stable, docs/RULES.md), type, priority (high/medium/low), title, evidence (list of
    {metric, value, unit, operation}), evidence_text (one line), action (what to change)."""

    __slots__ = ()

    def __str__(self) -> str:
        return (f"[{self['priority']}] {self['title']} ({self['id']})\n"
                f"    evidence: {self['evidence_text']}\n"
                f"    action:   {self['action']}")


class Trend(_Record):
    """kind (slowdown/memory_growth/spike), operation, description, magnitude, at (s), method."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"[{self['kind']}] {self['description']}"


def _records(cls: type, items: Iterable[Dict[str, Any]]) -> List[Any]:
    return [cls(x) for x in items]


class Findings:
    """Bottlenecks, classification, trends and recommendations of one analysis.

    ``str(findings)`` is a readable summary; ``findings.to_dict()`` the report's keys."""

    __slots__ = ("bottlenecks", "recommendations", "classification", "trends")

    def __init__(self, data: Dict[str, Any]) -> None:
        self.bottlenecks: List[Bottleneck] = _records(Bottleneck, data.get("bottlenecks", []))
        self.recommendations: List[Recommendation] = _records(Recommendation, data.get("recommendations", []))
        self.classification: Dict[str, Any] = data.get("classification", {})
        self.trends: List[Trend] = _records(Trend, data.get("trends", []))

    def to_dict(self) -> Dict[str, Any]:
        return {"bottlenecks": [dict(b) for b in self.bottlenecks],
                "recommendations": [dict(r) for r in self.recommendations],
                "classification": self.classification,
                "trends": [dict(t) for t in self.trends]}

    def summary(self, bottlenecks: int = 5, recommendations: int = 5) -> str:
        lines = ["== Top bottlenecks"]
        if not self.bottlenecks:
            lines.append("  (none)")
        for i, b in enumerate(self.bottlenecks[:bottlenecks], 1):
            lines.append(f"  {i}. {b}".replace("\n", "\n   "))
        c = self.classification
        if c:
            lines += ["", "== Classification", f"  {c.get('summary', '')}"]
        if self.trends:
            lines += ["", "== Trends"] + [f"  {t}" for t in self.trends]
        lines += ["", "== Recommendations"]
        if not self.recommendations:
            lines.append("  (none)")
        for i, r in enumerate(self.recommendations[:recommendations], 1):
            lines.append(f"  {i}. {r}".replace("\n", "\n   "))
        if len(self.recommendations) > recommendations:
            lines.append(f"  ... and {len(self.recommendations) - recommendations} more in the reports")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"<Findings: {len(self.bottlenecks)} bottlenecks, {len(self.recommendations)} recommendations, "
                f"{len(self.trends)} trends>")
