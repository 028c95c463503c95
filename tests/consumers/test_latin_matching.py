"""The patient index on a labelled set not in Chinese, through the real record store and database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.links import stale_links
from consumers.record_store.matching.field_rules import FieldRules
from consumers.record_store.matching.rules import load_rules
from consumers.record_store.models import PatientLink
from consumers.record_store.rematch import rematch_all
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.tools.demo import latin_dataset
from hub.tools.labelled_sets import read
from hub.tools.mpi_evaluation import evaluate_set

LATIN = Path("consumers/record_store/matching/examples/latin.yaml")


def test_latin_rules_reach_the_figures_on_the_generated_set(db: Database, settings: HubSettings, tmp_path: Path) -> None:
    source = tmp_path / "latin.csv"
    latin_dataset.write_csv(source, 2000, seed=11)
    consumer = RecordStoreConsumer(settings.model_copy(update={"match_rules": LATIN}))
    result = evaluate_set(db, read(source), consumer)
    assert result.records == 2000 and result.true_pairs > 1000
    assert result.precision >= 0.99, result.report()
    assert result.recall_links >= 0.95, result.report()
    assert result.review_share < 0.05, result.report()
    with db.sessions() as session:
        versions = set(session.scalars(select(PatientLink.rules_version).where(PatientLink.linked_by == "score")))
    assert versions == {consumer.rules.version}


def test_switching_to_field_rules_re_matches_with_features_extracted_again(db: Database, settings: HubSettings,
                                                                         tmp_path: Path) -> None:
    source = tmp_path / "latin.csv"
    latin_dataset.write_csv(source, 300, seed=5)
    builtin = evaluate_set(db, read(source), RecordStoreConsumer(settings))  # the Chinese rules know no insurance
    field_rules = load_rules(LATIN)
    assert isinstance(field_rules, FieldRules)
    with db.sessions() as session:
        assert stale_links(session, field_rules.version) > 0
    rematch_all(db, field_rules)
    with db.sessions() as session:
        stored = list(session.scalars(select(PatientLink.features).where(PatientLink.rules_version == field_rules.version)))
        communities = len(set(session.scalars(select(PatientLink.community_patient_id))))
    assert stored and all(field_rules.load_features(text or "") is not None for text in stored)
    assert communities < builtin.communities  # the field rules find pairs the built-in rules could not
