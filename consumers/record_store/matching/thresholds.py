"""Thresholds of the decision, shared by both kinds of rules file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    link: float
    possible: float
    ambiguity_margin: float = Field(ge=0)
    max_block_size: int = Field(gt=0)
    max_candidates: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.possible > self.link:
            raise ValueError(f"thresholds.possible ({self.possible}) must not exceed thresholds.link ({self.link})")
        return self
