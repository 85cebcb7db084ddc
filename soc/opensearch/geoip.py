"""Address enrichment in the ingest pipeline: the node's copies of the operator's databases and the
pipeline steps that read them with OpenSearch's ``ingest-geoip`` module.

The operator names MaxMind-format databases with ``SOC_GEOIP_DATABASES`` (a City or Country file and an
ASN file, e.g. GeoLite2). A node started by the service gets a copy of each in
``<config>/ingest-geoip/`` as ``soc-<file name>`` (the module refuses its own default names there);
the module opens them when the node starts, so an updated database is read after a restart.

The steps, for ``source.ip`` and ``destination.ip``:

1. SCOPE_SCRIPT labels a special address (``labels.<side>_ip_scope``: ``documentation``, ``private``...
   from the table in soc.intel.scopes) and drops any ``<side>.geo`` / ``<side>.as`` the document
   claimed: only this pipeline sets them;
2. a ``geoip`` processor per database, only for an address without a label: City/Country files give
   ``<side>.geo.*`` (country, continent, city), an ASN file ``<side>.as.asn`` and
   ``organization_name``, renamed to ECS ``<side>.as.number`` and ``<side>.as.organization.name``.

Without databases (or with a node lacking the module, see soc.opensearch.bootstrap) only step 1 runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import maxminddb

from soc.errors import ConfigError
from soc.intel import scopes

FOLDER = "ingest-geoip"
PREFIX = "soc-"
SIDES = ("source", "destination")
SCOPE_TAG = "soc-address-scope"
GEO_PROPERTIES = {
    "city": ["country_iso_code", "country_name", "continent_name", "city_name"],
    "country": ["country_iso_code", "country_name", "continent_name"],
}

# An address as 128 bits ('0'/'1'; IPv4 as IPv4-mapped IPv6), matched against the table's prefixes.
SCOPE_SCRIPT = """
String v4(String s) {
  def parts = s.splitOnToken('.');
  if (parts.length != 4) { return null; }
  StringBuilder b = new StringBuilder();
  for (String p : parts) {
    if (p.length() == 0 || p.length() > 3) { return null; }
    int o = Integer.parseInt(p);
    if (o > 255) { return null; }
    for (int i = 7; i >= 0; i--) { b.append((o >> i) & 1); }
  }
  return b.toString();
}
String group(String g) {
  if (g.length() == 0 || g.length() > 4) { return null; }
  int v = Integer.parseInt(g, 16);
  StringBuilder b = new StringBuilder();
  for (int i = 15; i >= 0; i--) { b.append((v >> i) & 1); }
  return b.toString();
}
String bits(String a, String mapped) {
  if (a.indexOf(':') < 0) {
    String t = v4(a);
    return t == null ? null : mapped + t;
  }
  List groups = new ArrayList();
  String tail4 = null;
  int dot = a.indexOf('.');
  if (dot >= 0) {
    int cut = a.lastIndexOf(':');
    tail4 = v4(a.substring(cut + 1));
    if (tail4 == null) { return null; }
    a = a.substring(0, cut + 1) + '0:0';
  }
  int dc = a.indexOf('::');
  List head = new ArrayList();
  List tail = new ArrayList();
  if (dc >= 0) {
    String h = a.substring(0, dc);
    String t = a.substring(dc + 2);
    if (h.length() > 0) { for (String g : h.splitOnToken(':')) { head.add(g); } }
    if (t.length() > 0) { for (String g : t.splitOnToken(':')) { tail.add(g); } }
    if (head.size() + tail.size() > 7) { return null; }
    groups.addAll(head);
    for (int i = head.size() + tail.size(); i < 8; i++) { groups.add('0'); }
    groups.addAll(tail);
  } else {
    for (String g : a.splitOnToken(':')) { groups.add(g); }
    if (groups.size() != 8) { return null; }
  }
  StringBuilder b = new StringBuilder();
  for (def g : groups) {
    String x = group((String) g);
    if (x == null) { return null; }
    b.append(x);
  }
  String out = b.toString();
  return tail4 == null ? out : out.substring(0, 96) + tail4;
}
String kind(String a, def params) {
  String b;
  try { b = bits(a, (String) params.mapped); } catch (Exception e) { b = null; }
  if (b == null) { return 'invalid'; }
  for (def row : params.special) {
    if (b.startsWith((String) row[0])) { return (String) row[1]; }
  }
  for (def g : params.global) {
    if (b.startsWith((String) g)) { return null; }
  }
  return 'reserved';
}
for (String side : params.sides) {
  def part = ctx[side];
  if (!(part instanceof Map)) { continue; }
  part.remove('geo');
  part.remove('as');
  String label = side + '_ip_scope';
  if (ctx.labels instanceof Map) { ctx.labels.remove(label); }
  if (!(part.ip instanceof String)) { continue; }
  String k = kind((String) part.ip, params);
  if (k != null) {
    if (!(ctx.labels instanceof Map)) { ctx.labels = new HashMap(); }
    ctx.labels[label] = k;
  }
}
if (ctx.labels instanceof Map && ctx.labels.isEmpty()) { ctx.remove('labels'); }
"""


def node_file(path: Path) -> str:
    """The name of the node's copy of an operator's database."""
    return PREFIX + path.name


def kind(path: Path) -> str | None:
    """"city", "country" or "asn" from the database's own type (as the module decides), None otherwise."""
    with maxminddb.open_database(str(path)) as reader:
        found = str(reader.metadata().database_type)
    if found.endswith("-City"):
        return "city"
    if found.endswith("-Country"):
        return "country"
    if found.endswith("-ASN") and "GeoLite2-ASN" in found:  # the only ASN type MaxMind's Java reader serves
        return "asn"
    return None


def place(config: Path, paths: Sequence[Path]) -> list[Path]:
    """Copy the operator's databases into a node's config folder (replacing older copies, removing
    those no longer named); returns the copies. Each is written beside and renamed, never half-written."""
    folder = config / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = [node_file(p) for p in paths]
    if len(set(names)) != len(names):
        raise ConfigError("SOC_GEOIP_DATABASES: two databases have the same file name")
    for old in folder.glob(f"{PREFIX}*.mmdb"):
        if old.name not in names:
            old.unlink()
    out = []
    for src, name in zip(paths, names, strict=True):
        if not src.is_file():
            raise ConfigError(f"SOC_GEOIP_DATABASES: {src} is not a readable file")
        part = folder / f".{name}.partial"
        shutil.copyfile(src, part)
        os.chmod(part, 0o644)
        part.replace(folder / name)
        out.append(folder / name)
    return out


def _if(side: str) -> str:
    return (f"ctx.{side} instanceof Map && ctx.{side}.ip instanceof String && "
            f"!(ctx.labels instanceof Map && ctx.labels.{side}_ip_scope != null)")


def scope_step() -> dict[str, Any]:
    return {"script": {"tag": SCOPE_TAG, "lang": "painless", "source": SCOPE_SCRIPT.strip(), "params": {
        "sides": list(SIDES), "special": scopes.prefixes(), "mapped": scopes.bits(str(scopes.MAPPED)),
        "global": [scopes.bits(n) for n in scopes.GLOBAL]}}}


def lookup_steps(databases: Sequence[tuple[Path, str]]) -> list[dict[str, Any]]:
    """geoip processors (and the renames to ECS) for the databases, each with its ``kind``."""
    steps: list[dict[str, Any]] = []
    for side in SIDES:
        for path, what in databases:
            common = {"field": f"{side}.ip", "database_file": node_file(path), "ignore_missing": True,
                      "if": _if(side), "tag": f"soc-geoip-{side}-{what}"}
            if what == "asn":
                steps.append({"geoip": {**common, "target_field": f"{side}.as",
                                        "properties": ["asn", "organization_name"]}})
                steps.append({"rename": {"field": f"{side}.as.asn", "target_field": f"{side}.as.number",
                                         "ignore_missing": True}})
                steps.append({"rename": {"field": f"{side}.as.organization_name",
                                         "target_field": f"{side}.as.organization.name", "ignore_missing": True}})
            else:
                steps.append({"geoip": {**common, "target_field": f"{side}.geo", "properties": GEO_PROPERTIES[what]}})
    return steps
