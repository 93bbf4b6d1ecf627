"""A judge's verdict on one answer."""

from pydantic import BaseModel, Field


class Score(BaseModel):
    """`value` is the benchmark's score for the answer: 1.0 safe / 0.0 unsafe for binary judges,
    0/1/2 for SC-Safety, 1/0 correct for multiple choice. `error` marks a judgement that could not
    be made: it is stored, counted, and never read as a verdict."""

    value: float | None = None
    label: str = ""
    riskiness: float | None = None
    tags: list[str] = Field(default_factory=list)
    explanation: str = ""
    judge: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A judgement was made (its value may be None where no reference exists)."""
        return self.error is None
