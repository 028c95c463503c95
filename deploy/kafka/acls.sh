#!/usr/bin/env bash
# Run once by the `kafka-setup` service (deploy/docker-compose.yml) over the brokers' internal
# listener: SCRAM users for the hub's principals and the ACLs that keep personal data to them.
#
# Every hub topic but hub.broker-epoch and hub.stock.v1 (drug stock) carries personal health information (names, resident IDs,
# diagnoses, prescriptions, results; the dead-letter topic holds raw member input). Only the data
# centre's principal `county-hub` may read them. A member's connector principal may only write
# the topics it publishes to, and describe the epoch marker; it can read nothing.
# The cluster denies whatever no ACL allows (StandardAuthorizer, allow.everyone.if.no.acl.found=false).
set -euo pipefail
BOOTSTRAP=${BOOTSTRAP:-kafka1:9094}
PREFIX=${HUB_TOPIC_PREFIX:-}
KAFKA=/opt/kafka/bin

# Topics a member's connector publishes to (hub/topics.py: CATALOGUE and DEAD_LETTER).
CONNECTOR_TOPICS="hub.patient.v1 hub.patient-merge.v1 hub.encounter.v1 hub.prescription.v1
hub.lab-result.v1 hub.imaging-request.v1 hub.dispense.v1 hub.allergy.v1 hub.stock.v1 hub.referral.v1
hub.dead-letter.v1"
# Topics a connector may describe but not write (the relay watches its id).
CONNECTOR_DESCRIBE="hub.broker-epoch"

scram() {  # scram USER PASSWORD
  "$KAFKA/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}
acl() { "$KAFKA/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add --force "$@"; }

# The data centre (hub run, consumer run): every hub topic and consumer group, and topic creation.
scram county-hub "${COUNTY_HUB_PASSWORD:?set COUNTY_HUB_PASSWORD (from HUB_KAFKA_PASSWORD in docker-compose.yml)}"
acl --allow-principal User:county-hub --operation All --resource-pattern-type prefixed --topic "${PREFIX}hub."
acl --allow-principal User:county-hub --operation All --resource-pattern-type prefixed --group "${PREFIX}hub."
acl --allow-principal User:county-hub --operation Describe --operation Create --cluster

# One principal per member connector: CONNECTOR_USERS="th01:password th02:password ..."
for entry in ${CONNECTOR_USERS:-}; do
  user="connector-${entry%%:*}"
  scram "$user" "${entry#*:}"
  for topic in $CONNECTOR_TOPICS; do
    acl --allow-principal "User:$user" --operation Write --operation Describe --topic "${PREFIX}${topic}"
  done
  for topic in $CONNECTOR_DESCRIBE; do
    acl --allow-principal "User:$user" --operation Describe --topic "${PREFIX}${topic}"
  done
done
"$KAFKA/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --list
