"""Ready-to-use configuration for an onboarded source, generated from its stored document.

For a syslog source: the collector's ``sources`` entry (and a whole collector file for the agency),
an rsyslog forwarding action (RFC 5424 over TCP with octet-counted framing, TLS through the
``gtls`` driver verifying the collector's certificate against the SOC CA, a disk-assisted queue)
and a syslog-ng destination doing the same. For a web server: the log path and format lines for
nginx and Apache, the collector entry that tails the file, and logrotate advice. The collector
files say how to install a collector on a server that has none: the offline bundle.

Every value placed in a file comes from a validated source or agency document (ids, host names,
numbers), never from log content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from collectors import __version__ as collector_version

WEB_TYPES = ("nginx", "apache")
DEFAULT_LOG_PATHS = {"nginx": "/var/log/nginx/access.log", "apache": "/var/log/apache2/access.log"}
NGINX_FORMAT = ("log_format soc_vhost '$host:$server_port $remote_addr - $remote_user [$time_local] "
                "\"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"';")
APACHE_FORMAT = ('LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" '
                 "vhost_combined")


@dataclass(frozen=True)
class Paths:
    """Where files live on the machines involved (the defaults are the documented install)."""

    collector_tls_dir: str = "/etc/soc/tls"  # collector.pem, collector.key (signed by the SOC CA), ca.pem
    host_ca_file: str = "/etc/ssl/soc/ca.pem"  # the SOC CA on each forwarding host
    host_cert_file: str = "/etc/ssl/soc/client.pem"  # the host's client certificate (soc sources add issues it)
    host_key_file: str = "/etc/ssl/soc/client-key.pem"
    queue_dir: str = "/var/lib/soc-collector"
    rsyslog_queue_max: str = "1g"
    syslog_ng_buffer_dir: str = "/var/lib/syslog-ng"


def _slug(source_id: str) -> str:
    return source_id.replace("-", "_").replace(".", "_")


def collector_entry(source: dict[str, Any], agency: dict[str, Any], paths: Paths) -> dict[str, Any]:
    """The item to add under ``sources:`` of the collector's file."""
    col = source["collector"]
    if source["type"] in WEB_TYPES:
        # The pattern takes in the file renamed by rotation, so its last lines are still read.
        entry: dict[str, Any] = {"id": source["id"], "type": "file", "format": source["type"],
                                 "paths": [source["log_path"] + "*"]}
    else:
        entry = {"id": source["id"], "type": "syslog", "protocol": col["protocol"]}
        entry["listen"] = f"0.0.0.0:{col['port']}"
        if col["protocol"] == "tls":
            # only hosts holding a client certificate from the SOC CA may send
            entry["tls"] = {"cert": f"{paths.collector_tls_dir}/collector.pem",
                            "key": f"{paths.collector_tls_dir}/collector.key",
                            "ca": f"{paths.collector_tls_dir}/ca.pem", "client_auth": "required"}
    entry["timezone"] = agency.get("timezone") or "UTC"
    return entry


def collector_bundle_name() -> str:
    """The collector's offline bundle, as ``make collector-bundle`` names it."""
    return f"soc-collector-{collector_version}-offline.tar.gz"


def install_note(collector_id: str) -> str:
    """Comment lines: how to install collector ``collector_id`` on an agency server without internet."""
    name = collector_bundle_name()
    return (f"# No collector {collector_id} on the agency's server yet? 'make collector-bundle' builds\n"
            f"# dist/{name} on the SOC side; copy it to the server and run (no package index needed):\n"
            f"#   tar xzf {name} && cd {name.removesuffix('-offline.tar.gz')} && sudo ./install.sh\n"
            "# INSTALL.vi.txt and INSTALL.en.txt in that folder give the next steps.\n")


def collector_file(agency: dict[str, Any], collector_id: str, sources: list[dict[str, Any]], paths: Paths,
                   opensearch_url: str, index_prefix: str = "", user: str | None = None) -> str:
    """A whole collector file serving ``sources`` (what ``soc-collector check -c`` validates)."""
    doc: dict[str, Any] = {
        "organization": {"id": agency["id"]},
        "collector": {"id": collector_id, "queue_dir": paths.queue_dir, "timezone": agency.get("timezone") or "UTC"},
        "opensearch": {"url": opensearch_url, "user": user or f"collector-{agency['id']}",
                       "password": "CHANGE-ME"},
        "sources": [collector_entry(s, agency, paths) for s in sources],
    }
    if not opensearch_url.startswith("https"):
        doc["opensearch"].pop("user")
        doc["opensearch"].pop("password")
    if index_prefix:
        doc["opensearch"]["index_prefix"] = index_prefix
    head = (f"# soc-collector configuration for {agency['id']} ({agency.get('name_en', '')}), "
            f"collector {collector_id}.\n# Generated by 'soc sources config'; check with: "
            "soc-collector check -c THIS_FILE\n") + install_note(collector_id)
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def with_credentials(text: str, user: str | None, password: str | None, ca_file: str | None) -> str:
    """A generated collector file with the OpenSearch credentials and the CA to verify the cluster by."""
    head = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    doc = yaml.safe_load(text)
    if user is not None and password is not None:
        doc["opensearch"]["user"], doc["opensearch"]["password"] = user, password
    if ca_file is not None:
        doc["opensearch"]["ca_file"] = ca_file
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def rsyslog(source: dict[str, Any], paths: Paths) -> str:
    col = source["collector"]
    target = col["address"]
    return f"""# Forward every message of this host to the SOC as log source {source['id']} ({source['name']}).
# Install: apt-get install rsyslog-gnutls; put the SOC CA certificate at {paths.host_ca_file} and
# this host's client certificate and key (from 'soc sources add') at {paths.host_cert_file} and
# {paths.host_key_file} (readable by rsyslog only); copy this file to
# /etc/rsyslog.d/60-soc-{source['id']}.conf; check with 'rsyslogd -N1';
# then 'systemctl restart rsyslog'. Messages wait in a disk-assisted queue (under rsyslog's
# work directory) while the collector is unreachable, up to {paths.rsyslog_queue_max}, and survive a restart.
action(type="omfwd" name="soc-{source['id']}"
       target="{target}" port="{col['port']}" protocol="tcp"
       TCP_Framing="octet-counted"
       template="RSYSLOG_SyslogProtocol23Format"
       StreamDriver="gtls" StreamDriverMode="1"
       StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="{target}"
       StreamDriver.CAFile="{paths.host_ca_file}"
       StreamDriver.CertFile="{paths.host_cert_file}" StreamDriver.KeyFile="{paths.host_key_file}"
       queue.type="LinkedList" queue.filename="soc-{source['id']}"
       queue.size="100000" queue.maxDiskSpace="{paths.rsyslog_queue_max}"
       queue.saveOnShutdown="on"
       action.resumeRetryCount="-1" action.resumeInterval="10")
"""


def syslog_ng(source: dict[str, Any], paths: Paths) -> str:
    col = source["collector"]
    name = _slug(source["id"])
    return f"""# Forward this host's messages to the SOC as log source {source['id']} ({source['name']}).
# Install: put the SOC CA certificate at {paths.host_ca_file}, and this host's client certificate
# and key (from 'soc sources add') at {paths.host_cert_file} and {paths.host_key_file}; copy this file to
# /etc/syslog-ng/conf.d/soc-{source['id']}.conf; check with 'syslog-ng --syntax-only';
# then 'systemctl restart syslog-ng'. s_src is the local source of Debian's default configuration.
# syslog() speaks RFC 5424 with octet-counted framing; the reliable disk buffer keeps messages
# while the collector is unreachable.
destination d_soc_{name} {{
    syslog("{col['address']}" port({col['port']}) transport("tls")
        tls(ca-file("{paths.host_ca_file}") peer-verify(required-trusted)
            cert-file("{paths.host_cert_file}") key-file("{paths.host_key_file}"))
        disk-buffer(reliable(yes) disk-buf-size(1073741824) dir("{paths.syslog_ng_buffer_dir}"))
    );
}};
log {{ source(s_src); destination(d_soc_{name}); }};
"""


def nginx(source: dict[str, Any]) -> str:
    return f"""# nginx, http {{ }} context (e.g. /etc/nginx/conf.d/soc-log.conf): one access log line per request
# with the virtual host first, for log source {source['id']}. Check with 'nginx -t', then reload.
{NGINX_FORMAT}
access_log {source['log_path']} soc_vhost;
"""


def apache(source: dict[str, Any]) -> str:
    return f"""# Apache httpd, server or virtual-host context, for log source {source['id']}.
# Debian's apache2.conf already defines vhost_combined exactly like this; check with 'apachectl -t'.
{APACHE_FORMAT}
CustomLog {source['log_path']} vhost_combined
"""


def logrotate(source: dict[str, Any]) -> str:
    server = "nginx" if source["type"] == "nginx" else "apache2"
    return f"""# Log rotation advice for {source['log_path']} (log source {source['id']}).
# Rotate by renaming (the default: no 'copytruncate'), so the collector finishes the old file
# before moving to the new one, and keep one uncompressed generation ('delaycompress') in case
# the collector was stopped during the rotation. Debian's /etc/logrotate.d/{server} already does this:
{source['log_path']} {{
    daily
    rotate 14
    missingok
    notifempty
    compress
    delaycompress
    create 0640 {'www-data' if server == 'nginx' else 'root'} adm
    sharedscripts
    postrotate
        {'invoke-rc.d nginx rotate >/dev/null 2>&1 || true' if server == 'nginx'
         else 'invoke-rc.d apache2 reload >/dev/null 2>&1 || true'}
    endscript
}}
"""


def bundle(source: dict[str, Any], agency: dict[str, Any], paths: Paths) -> dict[str, str]:
    """File name -> content of everything an admin needs for this source."""
    sid = source["id"]
    entry = yaml.safe_dump([collector_entry(source, agency, paths)], sort_keys=False, allow_unicode=True)
    col = source["collector"]["id"]
    out = {f"collector-source-{sid}.yml": f"# Add under 'sources:' of collector {col}\n" + install_note(col) + entry}
    if source["type"] in WEB_TYPES:
        out[f"nginx-{sid}.conf"] = nginx(source)
        out[f"apache-{sid}.conf"] = apache(source)
        out[f"logrotate-{sid}"] = logrotate(source)
    else:
        out[f"rsyslog-60-soc-{sid}.conf"] = rsyslog(source, paths)
        out[f"syslog-ng-soc-{sid}.conf"] = syslog_ng(source, paths)
    return out
