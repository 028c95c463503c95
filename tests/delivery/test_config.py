"""`deliver_to` in a member's connector configuration: what is accepted, and a clear line for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.delivery.routing import routes_from
from hub.app.parts import load_connector_config
from hub.core.connector import ConnectorConfig, ConnectorConfigError
from tests.delivery.harness import member_config


def write(tmp_path: Path, deliver_to: str) -> Path:
    path = tmp_path / "th01.yaml"
    path.write_text(f"name: th01-his\nkind: his_db\nfacility_id: th01\ndeliver_to:\n{deliver_to}", encoding="utf-8")
    return path


def test_a_member_with_mllp_and_fhir(tmp_path: Path) -> None:
    config = load_connector_config(write(tmp_path, """
  - {kind: mllp, host: 10.1.1.5, port: 2575, charset: gb18030, receiving_application: HIS}
  - {kind: fhir, url: "https://fhir.th01.example/r4", token: abc}
"""))
    mllp, fhir = config.deliver_to
    assert (mllp.kind, mllp.charset, mllp.name, mllp.timeout_s) == ("mllp", "GB18030", "mllp", 10.0)
    assert fhir.token is not None and "abc" not in repr(fhir)  # a secret stays out of logs
    routes = routes_from([config])
    assert [(r.key, r.address) for r in routes["th01"]] == [("th01/mllp", "10.1.1.5:2575"),
                                                            ("th01/fhir", "https://fhir.th01.example/r4")]


@pytest.mark.parametrize(("entry", "message"), [
    ("  - {kind: mllp, host: h, port: 70000}", "deliver_to.0.port: Input should be less than or equal to 65535"),
    ("  - {kind: mllp, port: 2575}", "deliver_to.0.host: Field required"),
    ("  - {kind: mllp, host: h, port: 1, charset: latin1}", "deliver_to.0.charset: Input should be 'UTF-8' or 'GB18030'"),
    ("  - {kind: smtp, host: h}", "deliver_to.0: Input tag 'smtp'"),
    ("  - {kind: fhir, url: fhir.th01}", "deliver_to.0.url: String should match pattern"),
    ("  - {kind: fhir, url: 'http://x', headers: {Authorization: x}}", "put the bearer token in `token`"),
    ("  - {kind: fhir, url: 'http://x', tokne: x}", "deliver_to.0.tokne: Extra inputs are not permitted"),
    ("  - {kind: mllp, host: a, port: 1}\n  - {kind: mllp, host: b, port: 2}", "two destinations are named 'mllp'"),
])
def test_a_bad_entry_is_one_clear_line(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path, entry + "\n")
    with pytest.raises(ConnectorConfigError) as failure:
        load_connector_config(path)
    assert str(failure.value).startswith(f"connector config {path}: ")
    assert message in str(failure.value)


def test_an_address_never_shows_a_credential() -> None:
    config = member_config("th01", {"kind": "fhir", "url": "https://hub:pa55@fhir.th01.example/r4?key=k1"})
    assert routes_from([config])["th01"][0].address == "https://fhir.th01.example/r4"


def test_two_configs_of_one_member_may_not_disagree_about_a_destination() -> None:
    one = member_config("th01", {"kind": "mllp", "host": "a", "port": 1})
    same = ConnectorConfig.model_validate({**one.model_dump(), "name": "th01-mllp"})
    assert len(routes_from([one, same])["th01"]) == 1
    other = member_config("th01", {"kind": "mllp", "host": "b", "port": 1})
    with pytest.raises(ConnectorConfigError, match="names th01/mllp differently"):
        routes_from([one, other])
