#!/bin/sh
# The compose deployment's certificates, made once with openssl (an existing file is kept):
#   PRIVATE  ca.pem, ca-key.pem, admin.pem, admin-key.pem   (the CA and the security administrator)
#   NODE     node.pem, node-key.pem, ca.pem                  (each OpenSearch node, owned by uid 1000)
#   PUBLIC   ca.pem                                          (what clients verify the cluster by)
# The node certificate names os-1, os-2, os-3 and localhost, so clients verify host names.
# Usage: pki.sh PRIVATE NODE PUBLIC
set -eu
private=$1 node=$2 public=$3
days=825
mkdir -p "$private" "$node" "$public"
chmod 700 "$private"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$private/ca.pem" ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$private/ca-key.pem"
  openssl req -x509 -new -key "$private/ca-key.pem" -subj "/O=SOC Service/OU=SOC/CN=soc-compose-ca" \
    -days "$days" -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$private/ca.pem"
fi

# signed NAME SUBJECT EXTENSIONS: NAME.pem and NAME-key.pem (PKCS#8) in $private, signed by the CA
signed() {
  [ -f "$private/$1.pem" ] && return 0
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$private/$1-key.pem"
  openssl req -new -key "$private/$1-key.pem" -subj "$2" -out "$tmp/$1.csr"
  printf '%s\n' "$3" > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$private/ca.pem" -CAkey "$private/ca-key.pem" \
    -CAserial "$tmp/ca.srl" -CAcreateserial -days "$days" -sha256 -extfile "$tmp/$1.ext" -out "$private/$1.pem"
}

signed node "/O=SOC Service/OU=SOC/CN=soc-node" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:os-1,DNS:os-2,DNS:os-3,DNS:localhost,IP:127.0.0.1"
signed admin "/O=SOC Service/OU=SOC/CN=soc-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
chmod 600 "$private"/*-key.pem

cp "$private/node.pem" "$private/node-key.pem" "$private/ca.pem" "$node/"
cp "$private/ca.pem" "$public/ca.pem"
chmod 600 "$node/node-key.pem"
chmod 644 "$node/node.pem" "$node/ca.pem" "$public/ca.pem"
if [ "$(id -u)" = 0 ]; then chown -R 1000:1000 "$node"; fi  # the opensearch user of the image
