#!/usr/bin/env bash
# Makes a private CA and one TLS certificate per broker (PEM, which Kafka reads directly with
# ssl.keystore.type=PEM), for the compose set-up. A county with its own PKI uses its certificates
# instead: put ca.pem and kafkaN.pem (certificate chain + unencrypted key) into deploy/kafka/certs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p certs && cd certs
umask 077
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=county-hub-kafka-ca" \
    -keyout ca.key -out ca.pem
fi
for n in 1 2 3; do
  [ -f "kafka$n.pem" ] && continue
  openssl req -newkey rsa:3072 -nodes -subj "/CN=kafka$n" -keyout "kafka$n.key" -out "kafka$n.csr"
  printf 'subjectAltName=DNS:kafka%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$n" > "kafka$n.ext"
  openssl x509 -req -in "kafka$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "kafka$n.ext" -out "kafka$n.crt"
  cat "kafka$n.crt" "kafka$n.key" > "kafka$n.pem"
  rm -f "kafka$n.csr" "kafka$n.ext"
done
chmod 644 ca.pem kafka?.pem   # read by the broker containers' user
echo "certificates in $(pwd); give the hub ca.pem as HUB_KAFKA_SSL_CAFILE"
