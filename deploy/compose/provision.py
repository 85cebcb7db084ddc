"""Load the service's security roles and users into the compose cluster (run once by compose).

Authenticates with the administrator certificate that deploy/compose/pki.sh made (the plugin's
``admin_dn``) and writes, through the security REST API, what ``soc opensearch start --security``
writes on a local node: the ``soc_service`` role (from soc.opensearch.roles, the code the tests
check), its mapping to the ``soc-service`` user, ``all_access`` for ``soc-admin``, and both users
with the passwords from SOC_SERVICE_PASSWORD and SOC_ADMIN_PASSWORD. Idempotent: a second run
sets the same role and the current passwords.
"""

from __future__ import annotations

import os
import sys
import time

from opensearchpy import ConnectionError as OSConnectionError
from opensearchpy import OpenSearch, TransportError

from soc.opensearch import roles, security_store


def main() -> int:
    url = os.environ.get("SOC_PROVISION_URL", "https://os-1:9200")
    pki = os.environ.get("SOC_PROVISION_PKI", "/etc/soc/pki-private")
    passwords = {roles.ADMIN_USER: os.environ.get("SOC_ADMIN_PASSWORD", ""),
                 roles.SERVICE_USER: os.environ.get("SOC_SERVICE_PASSWORD", "")}
    short = [user for user, pw in passwords.items() if len(pw) < 12]
    if short:
        print(f"provision: set a password of at least 12 characters for {', '.join(short)}", file=sys.stderr)
        return 2
    client = OpenSearch(hosts=[url], use_ssl=True, verify_certs=True, ca_certs=f"{pki}/ca.pem",
                        client_cert=f"{pki}/admin.pem", client_key=f"{pki}/admin-key.pem", timeout=30)
    deadline = time.monotonic() + 300
    while True:
        try:
            security_store.put_role(client, roles.service_role_name(), roles.service_role())
            security_store.map_role(client, roles.service_role_name(), [roles.SERVICE_USER])
            security_store.map_role(client, "all_access", [roles.ADMIN_USER])
            for user, password in passwords.items():
                security_store.put_user(client, user, password)
            print(f"provision: role {roles.service_role_name()} and users {', '.join(passwords)} written to {url}")
            return 0
        except (TransportError, OSConnectionError) as exc:
            if time.monotonic() > deadline:
                print(f"provision: the cluster at {url} did not accept the roles: {exc}", file=sys.stderr)
                return 1
            time.sleep(3)


if __name__ == "__main__":
    sys.exit(main())
