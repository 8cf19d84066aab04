#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the shared SIP corpus (../shared/sip-corpus) and the
# bench messages. Usage: fuzz/seed.sh   (run from anywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SIP_CORPUS:-$here/../../shared/sip-corpus}
for t in parse_datagram parse_stream roundtrip; do
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
echo "seeded: $(ls "$here/corpus" | tr '\n' ' ')"
