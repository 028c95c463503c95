"""Where a member's results go (`deliver_to` in its connector configuration): HL7 v2 over MLLP to
its listener, and/or FHIR to its endpoint. Checked when the configuration is loaded, so a bad entry
stops the hub at start with one line instead of failing at the first delivery."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Character sets a member's listener may ask for -> the name MSH-18 carries (HL7 table 0211).
MSH18 = {"UTF-8": "UNICODE UTF-8", "GB18030": "GB 18030-2000"}
_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class MllpDestination(BaseModel):
    """ORU^R01 (HL7 v2.5) over MLLP to the member's listener; each message waits for its ACK."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mllp"]
    name: str = Field("mllp", pattern=_NAME, description="Names the destination within the member (default: mllp).")
    host: str = Field(min_length=1, description="The member's MLLP listener.")
    port: int = Field(ge=1, le=65535)
    charset: Literal["UTF-8", "GB18030"] = Field("UTF-8", description="Encoding of the messages (and MSH-18).")
    timeout_s: float = Field(10.0, gt=0, le=300, description="Connecting, and waiting for each ACK.")
    receiving_application: str = Field("", max_length=40, description="MSH-5 (e.g. the member's HIS name).")
    receiving_facility: str = Field("", max_length=40, description="MSH-6; default: the member's facility id.")

    @field_validator("charset", mode="before")
    @classmethod
    def _charset(cls, value: object) -> object:
        # People write utf8, gb18030, "GB 18030-2000": all mean one of the two.
        if isinstance(value, str):
            name = value.strip().upper().replace(" ", "").replace("_", "-")
            aliases = {"UTF8": "UTF-8", "UNICODEUTF-8": "UTF-8", "GB18030-2000": "GB18030"}
            return aliases.get(name, name)
        return value


class FhirDestination(BaseModel):
    """A transaction Bundle POSTed to the member's FHIR base URL; resources are PUT by their ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["fhir"]
    name: str = Field("fhir", pattern=_NAME, description="Names the destination within the member (default: fhir).")
    url: str = Field(pattern=r"^https?://[^\s/]+", description="The member's FHIR base URL.")
    token: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer <token>`.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers (e.g. an API key).")
    timeout_s: float = Field(10.0, gt=0, le=300)

    @field_validator("headers")
    @classmethod
    def _no_authorization(cls, value: dict[str, str]) -> dict[str, str]:
        if any(k.lower() == "authorization" for k in value) :
            raise ValueError("put the bearer token in `token`, not in headers (it is kept secret there)")
        return value


Destination = Annotated[MllpDestination | FhirDestination, Field(discriminator="kind")]


def check_unique(destinations: list[MllpDestination | FhirDestination]) -> list[MllpDestination | FhirDestination]:
    names = [d.name for d in destinations]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two destinations are named {twice[0]!r}; give each its own `name`")
    return destinations


def destination_key(facility_id: str, destination: MllpDestination | FhirDestination) -> str:
    """The destination's label everywhere (tables, status, metrics): facility/name, e.g. th01/mllp."""
    return f"{facility_id}/{destination.name}"
