"""Allergies, duplicate therapy and interactions against what OTHER members recorded and prescribed: the
finding names the other member and points at its reference."""

from __future__ import annotations

from tests.pharmacy_review.factories import allergy, kinds, med, only, other, patient, review

AMOXICILLIN = med("J01CA04", "阿莫西林胶囊", dose=(500, "mg"), per_day=3, facility="F-TOWN")


# Allergies -------------------------------------------------------------------------------------------

def test_same_drug_allergy_from_another_member_holds() -> None:
    who = patient(allergies=(allergy("阿莫西林", "J01CA04", facility="F-VILLAGE", ref="AllergyIntolerance/a1"),))
    finding = only(review(AMOXICILLIN, who), "allergy")
    assert finding.rule_id == "allergy.same-drug" and finding.action == "hold"
    assert finding.implicated == ("AllergyIntolerance/a1",) and "F-VILLAGE" in finding.message_en
    assert "high criticality" in finding.message_en


def test_uncoded_allergy_matches_by_name() -> None:
    who = patient(allergies=(allergy("阿莫西林", None),))
    assert only(review(AMOXICILLIN, who), "allergy").rule_id == "allergy.same-drug"


def test_same_class_allergy_holds() -> None:
    penicillin_v = med("J01CE02", "青霉素V钾片", dose=(500, "mg"), per_day=3)
    for recorded in ("J01CA04", "J01C"):  # a sibling drug, or the class itself
        who = patient(allergies=(allergy("青霉素类", recorded),))
        assert only(review(penicillin_v, who), "allergy").rule_id == "allergy.same-class"


def test_a_shared_atc_level_alone_is_not_an_allergy_class() -> None:
    aspirin_allergy = patient(allergies=(allergy("阿司匹林", "B01AC06"),))
    for atc, name in (("B01AA03", "华法林钠片"), ("B01AC04", "氯吡格雷片")):
        assert "allergy" not in kinds(review(med(atc, name, dose=(3, "mg")), aspirin_allergy))


def test_aspirin_allergy_cross_reacts_with_nsaids() -> None:
    ibuprofen = med("M01AE01", "布洛芬缓释胶囊", dose=(300, "mg"), per_day=2)
    finding = only(review(ibuprofen, patient(allergies=(allergy("阿司匹林", "B01AC06"),))), "allergy")
    assert finding.rule_id == "allergy.nsaid-aspirin" and finding.action == "hold"


def test_penicillin_cephalosporin_cross_reaction_warns() -> None:
    cefixime = med("J01DD08", "头孢克肟分散片", dose=(100, "mg"), per_day=2)
    finding = only(review(cefixime, patient(allergies=(allergy("青霉素", "J01CE01"),))), "allergy")
    assert finding.rule_id == "allergy.penicillin-cephalosporin" and finding.action == "warn"


def test_unrelated_allergy_has_no_finding() -> None:
    azithromycin = med("J01FA10", "阿奇霉素片", dose=(500, "mg"), per_day=1)
    assert review(azithromycin, patient(allergies=(allergy("青霉素", "J01C"), allergy("海鲜", None)))).outcome == "pass"


# Duplicate therapy ----------------------------------------------------------------------------------

def test_two_ace_inhibitors_across_members_hold_and_name_the_other() -> None:
    captopril = med("C09AA01", "卡托普利片", dose=(25, "mg"), per_day=2, facility="F-TOWN")
    who = patient(active=(other("C09AA02", "依那普利片", facility="F-COUNTY", ref="MedicationRequest/c-9"),))
    finding = only(review(captopril, who), "duplicate")
    assert finding.implicated == ("MedicationRequest/c-9",)
    assert "依那普利片" in finding.message_zh and "F-COUNTY" in finding.message_en
    assert finding.rule_id == "duplicate.raas-blockade" and finding.action == "hold"


def test_two_ppis_warn() -> None:
    omeprazole = med("A02BC01", "奥美拉唑肠溶胶囊", dose=(20, "mg"), per_day=1)
    finding = only(review(omeprazole, patient(active=(other("A02BC03", "兰索拉唑肠溶胶囊"),))), "duplicate")
    assert finding.rule_id == "duplicate.same-subgroup" and finding.action == "warn" and "A02BC" in finding.message_en


def test_two_nsaids_of_different_subgroups_hold() -> None:
    ibuprofen = med("M01AE01", "布洛芬缓释胶囊", dose=(300, "mg"), per_day=2)
    finding = only(review(ibuprofen, patient(active=(other("M01AB05", "双氯芬酸钠缓释片"),))), "duplicate")
    assert finding.rule_id == "duplicate.nsaid"


def test_dual_antiplatelet_therapy_is_not_a_duplicate() -> None:
    clopidogrel = med("B01AC04", "氯吡格雷片", dose=(75, "mg"))
    assert "duplicate" not in kinds(review(clopidogrel, patient(active=(other("B01AC06", "阿司匹林肠溶片"),))))


def test_different_classes_and_exempt_classes_are_not_duplicates() -> None:
    amlodipine = med("C08CA01", "苯磺酸氨氯地平片", dose=(5, "mg"))
    assert "duplicate" not in kinds(review(amlodipine, patient(active=(other("A10BA02", "二甲双胍片"),))))
    saline = med("B05BB01", "0.9%氯化钠注射液", dose=(250, "ml"), route="静脉滴注", form="注射液")
    assert "duplicate" not in kinds(review(saline, patient(active=(other("B05BB01", "0.9%氯化钠注射液"),))))


def test_the_prescription_itself_in_the_active_list_is_not_a_duplicate() -> None:
    same = other("C09AA01", "卡托普利片", ref="MedicationRequest/rx-new")
    captopril = med("C09AA01", "卡托普利片", dose=(25, "mg"), per_day=2)
    assert review(captopril, patient(active=(same,))).outcome == "pass"


# Interactions ---------------------------------------------------------------------------------------

def test_warfarin_and_aspirin_from_another_member_hold() -> None:
    warfarin = med("B01AA03", "华法林钠片", dose=(3, "mg"), facility="F-TOWN")
    who = patient(active=(other("B01AC06", "阿司匹林肠溶片", facility="F-COUNTY", ref="MedicationRequest/asp"),))
    result = review(warfarin, who)
    finding = only(result, "interaction")
    assert result.outcome == "hold" and finding.rule_id == "interaction.warfarin-aspirin"
    assert finding.implicated == ("MedicationRequest/asp",) and "F-COUNTY" in finding.message_en
    assert "阿司匹林肠溶片" in finding.message_zh and finding.source


def test_interaction_either_way_round_and_by_class_prefix() -> None:
    ibuprofen = med("M01AE01", "布洛芬缓释胶囊", dose=(300, "mg"), per_day=2)
    finding = only(review(ibuprofen, patient(active=(other("B01AA03", "华法林钠片"),))), "interaction")
    assert finding.rule_id == "interaction.warfarin-nsaid"


def test_clopidogrel_omeprazole_warns() -> None:
    omeprazole = med("A02BC01", "奥美拉唑肠溶胶囊", dose=(20, "mg"))
    result = review(omeprazole, patient(active=(other("B01AC04", "氯吡格雷片"),)))
    assert result.outcome == "warn" and only(result, "interaction").rule_id == "interaction.clopidogrel-omeprazole"


def test_no_interaction_between_unrelated_drugs() -> None:
    assert review(AMOXICILLIN, patient(active=(other("C08CA01", "氨氯地平片"), other("A10BA02", "二甲双胍片")))) \
        .outcome == "pass"


def test_every_interacting_active_medicine_is_named() -> None:
    warfarin = med("B01AA03", "华法林钠片", dose=(3, "mg"))
    who = patient(active=(other("B01AC06", "阿司匹林肠溶片", ref="MedicationRequest/a"),
                          other("C01BD01", "胺碘酮片", facility="F-EAST", ref="MedicationRequest/b")))
    found = {f.implicated for f in review(warfarin, who).findings if f.kind == "interaction"}
    assert found == {("MedicationRequest/a",), ("MedicationRequest/b",)}
