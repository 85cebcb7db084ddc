"""A local node with the security plugin: TLS on HTTP and transport, internal users, the project's roles.

The plugin (``org.opensearch.plugin:opensearch-security``, version = OpenSearch version + ``.0``)
is fetched from Maven Central like the distribution and installed with the distribution's own
``opensearch-plugin`` tool into a copy of it, so the plain node stays plain. It bundles the jars
it needs (its own netty transport, the REST client, Bouncy Castle), so nothing else is fetched.

A node's home gets ``private/`` (mode 0700, never given to the node's system user): the CA, the
admin certificate and key, and the generated passwords. The node's config folder gets only its
own certificate and key, the CA certificate and the plugin's initial configuration; ``ca.pem`` in
the home is a public copy of the CA for clients. After the node is healthy, the service's role
and its two users (``soc-admin`` with ``all_access``, ``soc-service`` with ``soc_service``) are
written through the plugin's REST API, authenticated with the admin certificate.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import time
from pathlib import Path

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from soc.errors import NodeError
from soc.opensearch import certs, dist, java, node, roles, security_store

# The newest OpenSearch release whose security plugin Maven Central serves (2.19.4.0; none for the
# plain node's 2.19.6): the plugin's version must be the server's plus ".0".
VERSION = "2.19.4"
PLUGIN_GROUP = "org.opensearch.plugin"
PLUGIN = "opensearch-security"
COPIED = ("action_groups.yml", "tenants.yml", "nodes_dn.yml", "allowlist.yml", "audit.yml")


def plugin_version(version: str) -> str:
    return f"{version}.0"


def fetch_plugin(version: str, cache: Path) -> Path:
    """The verified plugin zip in the cache, fetched with Maven when missing."""
    pv = plugin_version(version)
    target, sums = cache / f"{PLUGIN}-{pv}.zip", cache / f"{PLUGIN}-{pv}.zip.sha1"
    if not target.exists() or not sums.exists():
        artifact = f"{PLUGIN_GROUP}:{PLUGIN}:{pv}:zip"
        dist._run_mvn(["dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={cache}"],
                      f"the security plugin {pv} ({artifact})")
        published = dist._m2_repo() / PLUGIN_GROUP.replace(".", "/") / PLUGIN / pv / f"{target.name}.sha1"
        if not published.exists():
            raise NodeError(f"Maven fetched {target.name} but left no published checksum at {published}")
        sums.write_text(published.read_text().split()[0].strip() + "\n")
    if dist.sha1_of(target) != sums.read_text().strip():
        raise NodeError(f"the cached plugin {target} is corrupted; delete it and run again")
    return target


def install(version: str, cache: Path) -> Path:
    """A copy of the assembled distribution with the security plugin installed; made once."""
    home = cache / f"opensearch-{version}-security"
    marker = home / ".soc-security-ready"
    if marker.exists():
        if any(not (home / "modules" / m.name).is_dir() for m in dist.MODULES):
            dist.assemble_modules(home, version)  # a newer release of the service needs another module
        return home
    plain = dist.install(version, cache)
    archive = fetch_plugin(version, cache)
    staging = cache / f".opensearch-{version}-security.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(plain, staging, symlinks=True)
    env = dict(os.environ, OPENSEARCH_JAVA_HOME=str(java.check_java().parent.parent),
               OPENSEARCH_PATH_CONF=str(staging / "config"))
    proc = subprocess.run([str(staging / "bin" / "opensearch-plugin"), "install", "--batch", archive.as_uri()],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    if proc.returncode != 0:
        raise NodeError(f"cannot install the security plugin: {(proc.stderr or proc.stdout).strip()[-400:]}")
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)
    marker.write_text(dist.sha1_of(archive) + "\n")
    return home


def private(home: Path) -> Path:
    return home / node.PRIVATE


def passwords(home: Path) -> dict[str, str]:
    """The generated passwords of the service's users, made on first use (file mode 0600)."""
    path = private(home) / "passwords.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    made = {roles.ADMIN_USER: secrets.token_urlsafe(24), roles.SERVICE_USER: secrets.token_urlsafe(24)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(made, fh)
    return made


def settings() -> dict[str, object]:
    """opensearch.yml settings of the plugin (paths relative to the node's config folder)."""
    out: dict[str, object] = {}
    for layer in ("transport", "http"):
        out[f"plugins.security.ssl.{layer}.pemcert_filepath"] = "certs/node.pem"
        out[f"plugins.security.ssl.{layer}.pemkey_filepath"] = "certs/node-key.pem"
        out[f"plugins.security.ssl.{layer}.pemtrustedcas_filepath"] = "certs/ca.pem"
    out.update({
        "plugins.security.ssl.http.enabled": True,
        # A client certificate is asked for but optional: only the admin presents one.
        "plugins.security.ssl.http.clientauth_mode": "OPTIONAL",
        "plugins.security.allow_default_init_securityindex": True,
        "plugins.security.authcz.admin_dn": [certs.ADMIN_DN],
        "plugins.security.nodes_dn": [certs.NODE_DN],
        "plugins.security.restapi.roles_enabled": ["all_access"],
        "plugins.security.system_indices.enabled": True,
    })
    return out


def _initial_config() -> dict[str, object]:
    basic = {"description": "internal users, HTTP basic authentication", "http_enabled": True,
             "transport_enabled": True, "order": 0, "http_authenticator": {"type": "basic", "challenge": True},
             "authentication_backend": {"type": "intern"}}
    return {"_meta": {"type": "config", "config_version": 2},
            "config": {"dynamic": {"http": {"anonymous_auth_enabled": False},
                                   "authc": {"basic_internal_auth_domain": basic}}}}


def preparer(dist_home: Path, home: Path) -> node.Secured:
    private(home).mkdir(parents=True, exist_ok=True)
    private(home).chmod(0o700)
    pki = certs.ensure(private(home) / "pki")
    shutil.copy2(pki.ca, home / "ca.pem")
    (home / "ca.pem").chmod(0o644)

    def prepare(spec: node.NodeSpec, account: tuple[int, int] | None) -> None:
        conf = spec.folder / "config"
        tls, sec = conf / "certs", conf / "opensearch-security"
        for folder in (tls, sec):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o700)
        for src, name in ((pki.node, "node.pem"), (pki.node_key, "node-key.pem"), (pki.ca, "ca.pem")):
            shutil.copyfile(src, tls / name)
            (tls / name).chmod(0o600)
        empty = {"internal_users.yml": "internalusers", "roles.yml": "roles", "roles_mapping.yml": "rolesmapping"}
        for name, kind in empty.items():
            (sec / name).write_text(json.dumps({"_meta": {"type": kind, "config_version": 2}}) + "\n")
        (sec / "config.yml").write_text(json.dumps(_initial_config()) + "\n")
        for name in COPIED:
            shutil.copy2(dist_home / "config" / "opensearch-security" / name, sec / name)
        if account is not None:
            for path in (tls, sec, *tls.iterdir(), *sec.iterdir()):
                os.chown(path, *account)

    return node.Secured(settings(), prepare, admin_context(home))


def admin_context(home: Path) -> ssl.SSLContext:
    """TLS trusting the project CA and presenting the admin certificate."""
    pki = certs.Pki(private(home) / "pki")
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(pki.admin), str(pki.admin_key))
    return context


def admin_client(home: Path, url: str) -> OpenSearch:
    pki = certs.Pki(private(home) / "pki")
    return OpenSearch(hosts=[url], use_ssl=True, verify_certs=True, ca_certs=str(pki.ca),
                      client_cert=str(pki.admin), client_key=str(pki.admin_key), timeout=30)


def provision(home: Path, url: str, timeout: float = 90.0) -> None:
    """Write the service's role, mappings and users (idempotent), once the plugin has initialised."""
    client, pw = admin_client(home, url), passwords(home)
    deadline = time.monotonic() + timeout
    while True:
        try:
            security_store.put_role(client, roles.service_role_name(), roles.service_role())
            security_store.map_role(client, roles.service_role_name(), [roles.SERVICE_USER])
            security_store.map_role(client, "all_access", [roles.ADMIN_USER])
            for user in (roles.ADMIN_USER, roles.SERVICE_USER):
                security_store.put_user(client, user, pw[user])
            return
        except (TransportError, OSConnectionError) as exc:
            if time.monotonic() > deadline:
                raise NodeError(f"the security plugin did not accept the service's users: {exc}") from None
            time.sleep(1.0)


def env(home: Path, admin: bool = False) -> dict[str, str]:
    """The SOC_OPENSEARCH_* settings that reach the secured node under ``home``."""
    specs = node.existing_specs(home)
    if not specs or specs[0].scheme != "https" or not (private(home) / "passwords.json").exists():
        raise NodeError(f"no secured node under {home}: start one with 'soc opensearch start --security'")
    user = roles.ADMIN_USER if admin else roles.SERVICE_USER
    return {"SOC_OPENSEARCH_URL": specs[0].url, "SOC_OPENSEARCH_USER": user,
            "SOC_OPENSEARCH_PASSWORD": passwords(home)[user], "SOC_OPENSEARCH_CA_FILE": str(home / "ca.pem")}
