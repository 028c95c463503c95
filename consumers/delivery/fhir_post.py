"""POSTing one transaction Bundle to a member's FHIR endpoint with httpx."""

from __future__ import annotations

import json

import httpx

from consumers.delivery.fhir_bundle import CONTENT_TYPE
from consumers.delivery.routing import shown_url
from consumers.delivery.transport import Outcome
from hub.core.destinations import FhirDestination

ANSWER_LIMIT = 2000
_RETRY_STATUSES = (408, 425, 429)  # "try again later" although they are 4xx


class FhirTransport:
    def __init__(self, destination: FhirDestination, transport: httpx.BaseTransport | None = None) -> None:
        self.destination = destination
        headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE, **destination.headers}
        if destination.token is not None:
            headers["Authorization"] = f"Bearer {destination.token.get_secret_value()}"
        self.client = httpx.Client(headers=headers, timeout=destination.timeout_s, transport=transport,
                                   follow_redirects=False)

    def send(self, message_id: str, body: bytes) -> Outcome:
        url = shown_url(self.destination.url)
        try:
            response = self.client.post(self.destination.url, content=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Outcome("down", f"cannot connect to {url}: {exc or type(exc).__name__}", kind="connect")
        except httpx.TimeoutException:
            return Outcome("retry", f"no answer from {url} within {self.destination.timeout_s:g} s", kind="timeout")
        except httpx.HTTPError as exc:
            return Outcome("retry", f"{url}: {type(exc).__name__}: {exc}", kind="protocol")
        status = response.status_code
        answer = f"{status} {response.text[:ANSWER_LIMIT]}"
        if 200 <= status < 300:
            return Outcome("acknowledged", answer=answer)
        if 300 <= status < 400:
            where = response.headers.get("location", "elsewhere")
            return Outcome("retry", f"{url} answered {status}, redirecting to {where}; set deliver_to's url to "
                           "the endpoint itself", answer, "protocol")
        if status in _RETRY_STATUSES or status >= 500:
            return Outcome("retry", f"{url} answered {status}: {_diagnostics(response)}", answer, "server")
        return Outcome("refused", f"{url} answered {status}: {_diagnostics(response)}", answer)

    def close(self) -> None:
        self.client.close()


def _diagnostics(response: httpx.Response) -> str:
    """What an OperationOutcome says (diagnostics or details.text of each issue), else the body's start."""
    try:
        outcome = json.loads(response.text)
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(outcome, dict) and outcome.get("resourceType") == "OperationOutcome":
        texts = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "")
                 for i in outcome.get("issue") or [] if isinstance(i, dict)]
        found = "; ".join(t for t in texts if t)
        if found:
            return found[:ANSWER_LIMIT]
    return response.text[:300].strip()
