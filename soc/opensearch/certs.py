"""The secured node's certificates, made with the openssl command: a project CA, a node, an admin.

The CA signs the node certificate (HTTP and transport, for 127.0.0.1 and localhost) and the admin
certificate that the security plugin recognises by its subject (``plugins.security.authcz.admin_dn``)
to manage its configuration. Keys are PKCS#8 PEM, as the plugin reads them. Everything is made
once; an existing file is kept.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from soc.errors import NodeError

CA_SUBJECT = "/O=SOC Service/OU=SOC/CN=soc-local-ca"
NODE_SUBJECT = "/O=SOC Service/OU=SOC/CN=soc-node"
ADMIN_SUBJECT = "/O=SOC Service/OU=SOC/CN=soc-admin"
VALID_DAYS = 825


def dn(subject: str) -> str:
    """'/O=A/OU=B/CN=C' as the plugin writes distinguished names: 'CN=C,OU=B,O=A'."""
    return ",".join(reversed([part for part in subject.split("/") if part]))


NODE_DN = dn(NODE_SUBJECT)
ADMIN_DN = dn(ADMIN_SUBJECT)


@dataclass(frozen=True)
class Pki:
    """Where the files are: ``folder`` holds everything; only the node's own files leave it."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def node(self) -> Path:
        return self.folder / "node.pem"

    @property
    def node_key(self) -> Path:
        return self.folder / "node-key.pem"

    @property
    def admin(self) -> Path:
        return self.folder / "admin.pem"

    @property
    def admin_key(self) -> Path:
        return self.folder / "admin-key.pem"


def openssl(args: list[str], what: str, error: type[Exception] = NodeError) -> None:
    """Run the openssl command; a missing command or a failure raises ``error`` saying which and why."""
    try:
        proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise error("the openssl command is not installed: install the Debian package 'openssl'") from None
    if proc.returncode != 0:
        raise error(f"openssl could not make {what}: {proc.stderr.strip()[:300]}")


_openssl = openssl


def _key(path: Path) -> None:
    _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)],
             path.name)
    path.chmod(0o600)


def _signed(pki: Pki, cert: Path, key: Path, subject: str, extensions: str) -> None:
    _key(key)
    with tempfile.TemporaryDirectory(prefix="soc-pki-") as tmp:
        csr, ext = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        ext.write_text(extensions)
        _openssl(["req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr)], f"a request for {cert.name}")
        _openssl(["x509", "-req", "-in", str(csr), "-CA", str(pki.ca), "-CAkey", str(pki.ca_key),
                  "-CAcreateserial", "-days", str(VALID_DAYS), "-sha256", "-extfile", str(ext),
                  "-out", str(cert)], cert.name)
    pki.folder.joinpath("ca.srl").unlink(missing_ok=True)


def ensure(folder: Path) -> Pki:
    """The CA, node and admin certificates in ``folder`` (mode 0700), made when missing."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    pki = Pki(folder)
    if not pki.ca.exists():
        _key(pki.ca_key)
        _openssl(["req", "-x509", "-new", "-key", str(pki.ca_key), "-subj", CA_SUBJECT, "-days", str(VALID_DAYS),
                  "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(pki.ca)], "the CA")
    if not pki.node.exists():
        _signed(pki, pki.node, pki.node_key, NODE_SUBJECT,
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    if not pki.admin.exists():
        _signed(pki, pki.admin, pki.admin_key, ADMIN_SUBJECT,
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=clientAuth\n")
    return pki
