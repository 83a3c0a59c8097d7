# Seeds the lab domain in one process (run inside the DC's mount namespace with Debian's
# /usr/bin/python3, before `samba -D`, directly on sam.ldb). Reads a JSON document on stdin
# (passwords included; never printed) and prints one JSON line: {"domainSid": ..., "svcSid": ...}.
import json
import sys

import ldb
from samba.auth import system_session
from samba.dcerpc import security
from samba.ndr import ndr_pack, ndr_unpack
from samba.param import LoadParm
from samba.samdb import SamDB

cfg = json.load(sys.stdin)
lp = LoadParm()
lp.load("/etc/samba/smb.conf")
samdb = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
domain_sid = security.dom_sid(samdb.get_domain_sid())

samdb.create_ou(cfg["ou"], description="Computers joined by adjoin")
for g in cfg["groups"]:
    samdb.newgroup(g["name"], gidnumber=g.get("gidNumber"), nisdomain=cfg["nisDomain"] if g.get("gidNumber") else None)
for u in cfg["users"]:
    kw = {}
    if u.get("uidNumber"):
        kw = dict(uidnumber=u["uidNumber"], gidnumber=u["gidNumber"], nisdomain=cfg["nisDomain"],
                  unixhome="/home/" + u["name"], loginshell="/bin/bash", uid=u["name"])
    samdb.newuser(u["name"], u["password"], givenname=u["name"], **kw)
    for g in u.get("groups", []):
        samdb.add_remove_group_members(g, [u["name"]], add_members_operation=True)


def sid_of(name):
    res = samdb.search(samdb.domain_dn(), expression="(sAMAccountName=%s)" % ldb.binary_encode(name), attrs=["objectSid"])
    return str(ndr_unpack(security.dom_sid, res[0]["objectSid"][0]))


def add_aces(dn, aces):
    """Adds explicit ACEs before the first ACE of the DACL (as `samba-tool dsacl set` does)."""
    res = samdb.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"])
    desc = ndr_unpack(security.descriptor, res[0]["nTSecurityDescriptor"][0])
    sddl = desc.as_sddl(domain_sid)
    d = sddl.index("D:")
    first = sddl.find("(", d)
    sddl = sddl[:first] + aces + sddl[first:] if first >= 0 else sddl + aces
    m = ldb.Message()
    m.dn = ldb.Dn(samdb, dn)
    m["nTSecurityDescriptor"] = ldb.MessageElement(ndr_pack(security.descriptor.from_sddl(sddl, domain_sid)),
                                                   ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor")
    samdb.modify(m)


svc = sid_of(cfg["serviceAccount"])
COMPUTER = "bf967a86-0de6-11d0-a285-00aa003049e2"
DNS_NODE = "e0fa1e8c-9b45-11d0-afdd-00c04fd930c9"
# Create/delete computer objects in the managed OU, and write their properties (inherit-only).
add_aces(cfg["ou"], "(OA;CI;CCDC;%s;;%s)(OA;CIIO;WP;;%s;%s)" % (COMPUTER, svc, COMPUTER, svc))
# Delete the DNS records (dnsNode) a joined host registered in the domain's zone.
add_aces(cfg["dnsZoneDn"], "(OA;CI;DC;%s;;%s)" % (DNS_NODE, svc))

print(json.dumps({"domainSid": str(domain_sid), "svcSid": svc}))
