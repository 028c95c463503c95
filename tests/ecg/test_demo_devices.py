"""The demo county's carts and DR/CT machines make DICOM the hub's door accepts, from HIS orders."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from connectors.dicom.ingest import ingest_dicom
from hub.core.blobs import FileBlobStore
from hub.tools.demo.county import build_county
from hub.tools.demo.devices import DeviceFleet, EcgOrder, _bytes, _subject, ecg_for, image
from hub.tools.demo.generator import CountySimulator


def test_orders_become_ecgs_and_images_the_door_accepts(tmp_path: Path) -> None:
    county = build_county(tmp_path / "county")
    simulator = CountySimulator(county, rate=5, seed=7)
    simulator.seed_population(5)
    for _ in range(20):
        if len(simulator.ecg_orders) >= 3:
            break
        simulator.step(200)
    assert simulator.ecg_orders, "the simulated HIS wrote no ECG order"
    priorities = {o.priority for o in simulator.ecg_orders}
    assert priorities <= {"routine", "urgent", "asap", "stat"}
    blobs = FileBlobStore(tmp_path / "blobs")
    order = simulator.ecg_orders[0]
    village = EcgOrder("vc01", "0000000001", 3, 42, "stat", "胸闷待查", 0.0)
    for item, eight in ((order, False), (village, True)):
        ds = ecg_for(item, 7, random.Random(1), village=eight)
        result = ingest_dicom(_bytes(ds), "cart.dcm", item.facility_id, blobs)
        assert result.events and not result.rejected
        request, study = result.events[0].resource, result.events[0].related[0]
        assert request["code"]["coding"][0]["code"] == "11524-6"
        assert study["subject"]["reference"] == f"Patient/{item.facility_id}-pat-{item.patient_id}"
        assert any(e["url"] == "urn:hub:blob:ecg" for e in study["extension"])
        assert len(ds.WaveformSequence[0].ChannelDefinitionSequence) == (8 if eight else 12)
    assert ingest_dicom(_bytes(ecg_for(village, 7, random.Random(1), True)), "x.dcm", "vc01",
                        blobs).events[0].resource["priority"] == "stat"
    for modality in ("CT", "DR"):
        ds = image(modality, _subject(7, 3, "A0000003"), datetime(2026, 11, 27, 10, 0), True, random.Random(2))
        result = ingest_dicom(_bytes(ds), "img.dcm", "cty01", blobs)
        assert result.events and result.events[0].resource["priority"] == "stat"
        assert result.events[0].related[0]["modality"][0]["code"] == ("CT" if modality == "CT" else "DX")
    # The county hospital's own cart writes into the hub's DICOM inbox (whole files only).
    simulator.ecg_orders.appendleft(EcgOrder("cty01", "A0000001", 1, 9, "routine", "体检", 0.0))
    fleet = DeviceFleet(county, simulator.ecg_orders, simulator.registered, {}, "http://127.0.0.1:9",
                        tmp_path / "inbox", rate=1, seed=7, cart_delay_s=0)
    assert fleet.step() == "ECG"
    assert [p.suffix for p in (tmp_path / "inbox").iterdir()] == [".dcm"]
    simulator.close()
