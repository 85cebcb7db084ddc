"""A client certificate for each forwarding host, signed by the SOC CA with the openssl command.

TLS syslog listeners require a client certificate by default, so only hosts the SOC onboarded can
send. ``soc sources add`` issues one per host: subject ``CN=<host>, OU=<agency>``, the host as
its subject alternative name, usable only for client authentication. The CA folder holds
``ca.pem`` and ``ca-key.pem`` (the layout the project's CA uses). The host name was validated
when the source was onboarded and is checked again here before it reaches openssl's arguments.
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
from pathlib import Path

from soc.errors import Invalid
from soc.opensearch import certs

VALID_DAYS = 825
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:\-]{0,252}$")


def ca_files(folder: Path) -> tuple[Path, Path]:
    """The CA certificate and key in ``folder``, or a clear error naming what is missing."""
    cert, key = folder / "ca.pem", folder / "ca-key.pem"
    for path in (cert, key):
        if not path.is_file():
            raise Invalid(f"no SOC CA to sign the host's client certificate: {path} is missing "
                          "(give --ca-dir with ca.pem and ca-key.pem, or --no-client-cert)")
    return cert, key


def _openssl(args: list[str], what: str) -> None:
    certs.openssl(args, what, Invalid)


def file_names(host: str) -> tuple[str, str]:
    return f"client-{host}.pem", f"client-{host}-key.pem"


def issue(ca_folder: Path, host: str, agency: str, out: Path, days: int = VALID_DAYS) -> tuple[Path, Path]:
    """Write ``client-<host>.pem`` and ``client-<host>-key.pem`` (mode 0600) into ``out``."""
    if not _NAME.match(host) or not _NAME.match(agency):
        raise Invalid(f"cannot issue a certificate for host {host!r} of agency {agency!r}")
    ca_cert, ca_key = ca_files(ca_folder)
    try:
        alt = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        alt = f"DNS:{host}"
    out.mkdir(parents=True, exist_ok=True)
    cert_name, key_name = file_names(host)
    cert, key = out / cert_name, out / key_name
    _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)], key.name)
    key.chmod(0o600)
    with tempfile.TemporaryDirectory(prefix="soc-client-cert-") as tmp:
        csr, ext = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                       f"extendedKeyUsage=clientAuth\nsubjectAltName={alt}\n")
        _openssl(["req", "-new", "-key", str(key), "-subj", f"/O=SOC Service/OU={agency}/CN={host}", "-out",
                  str(csr)], f"a certificate request for {host}")
        _openssl(["x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAserial",
                  str(Path(tmp) / "ca.srl"), "-CAcreateserial", "-days", str(days), "-sha256", "-extfile",
                  str(ext), "-out", str(cert)], f"the client certificate of {host}")
    return cert, key
