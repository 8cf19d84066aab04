#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the shared SIP corpus (../shared/sip-corpus) and the
# bench messages. Usage: fuzz/seed.sh   (run from anywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SIP_CORPUS:-$here/../../shared/sip-corpus}
for t in parse_datagram parse_stream roundtrip edge_datagram; do
  mkdir -p "$here/corpus/$t"
  find "$shared" "$here/../benches/messages" -type f \( -name '*.dat' -o -name '*.sip' \) -exec cp {} "$here/corpus/$t/" \;
done
# Value-level targets: every header value of the corpus, one file each.
python3 - "$shared" "$here/corpus" <<'PY'
import os, sys, hashlib, re
shared, out = sys.argv[1], sys.argv[2]
targets = {"uri": [], "name_addr": [], "digest": []}
for root, _, files in os.walk(shared):
    for f in files:
        if not f.endswith((".dat", ".sip")):
            continue
        data = open(os.path.join(root, f), "rb").read()
        head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
        lines = re.split(rb"\r?\n(?![ \t])", head)
        for l in lines[1:]:
            if b":" not in l:
                continue
            name, value = l.split(b":", 1)
            name = name.strip().lower()
            value = value.strip()
            if name in (b"to", b"from", b"contact", b"route", b"record-route", b"path", b"t", b"f", b"m"):
                targets["name_addr"].append(value)
                m = re.search(rb"<([^>]*)>", value)
                if m:
                    targets["uri"].append(m.group(1))
            if name in (b"authorization", b"www-authenticate", b"proxy-authorization", b"proxy-authenticate"):
                targets["digest"].append(value)
        first = lines[0].split(b" ")
        if len(first) == 3:
            targets["uri"].append(first[1])
for t, values in targets.items():
    d = os.path.join(out, t)
    os.makedirs(d, exist_ok=True)
    for v in values:
        open(os.path.join(d, hashlib.sha1(v).hexdigest()), "wb").write(v)
PY
# The RFC 5769 §2.1 STUN Binding request, for the STUN side of edge_datagram.
printf '%s' 000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf \
  | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read()))' > "$here/corpus/edge_datagram/rfc5769-request.bin"
echo "seeded: $(ls "$here/corpus" | tr '\n' ' ')"
