"""Single-line bugs placed in security rules, one at a time, with the test that must catch each:
`python .ci/mutations.py [name-prefix ...]` prints CAUGHT or MISSED per rule (about a minute)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
M = [
    (
        "15 pending reads 3",
        "delegation/service.py",
        "                entries[idx] = status_list.PENDING",
        "                pass",
        "tests/delegation/test_offline_rules.py",
    ),
    (
        "17 person delegate PID",
        "agents/submissions.py",
        'return principal.kind == "citizen" and principal.subject == delegate.get("pid")',
        'return principal.kind == "citizen"',
        "tests/delegation/test_security_rules.py",
    ),
    (
        "18 delegator-only revoke",
        "delegation/service.py",
        '    allowed = is_delegator(principal, d) if action == "revoke" else is_delegate(principal, d)',
        "    allowed = is_delegator(principal, d) or is_delegate(principal, d)",
        "tests/delegation/test_security_rules.py",
    ),
    (
        "19a signed root compared",
        "audit/service.py",
        "        if computed_root != checkpoint.root_hash:",
        "        if False:",
        "tests/audit/test_log.py",
    ),
    (
        "19b checkpoint signature",
        "audit/service.py",
        "            claims = self.keyring.verify(checkpoint.signed, CHECKPOINT_TYP)",
        "            claims = __import__('json').loads(__import__('base64').urlsafe_b64decode(checkpoint.signed.split('.')[1] + '=='))",
        "tests/audit/test_log.py",
    ),
    (
        "20a list for another URI",
        "delegation/offline.py",
        '        if lst.get("sub") != uri:',
        "        if False:",
        "tests/delegation/test_offline_rules.py",
    ),
    (
        "20b expired list",
        "delegation/offline.py",
        "        if now > lst.exp + self.skew:",
        "        if False:",
        "tests/delegation/test_offline_rules.py",
    ),
    (
        "20c nbf",
        "delegation/offline.py",
        "        if isinstance(nbf, int) and now + self.skew < nbf:",
        "        if False:",
        "tests/delegation/test_offline_rules.py",
    ),
    (
        "21 last use bumps list",
        "delegation/service.py",
        "        _bump_list(session, row.status_list_n)  # the list now says INVALID for it",
        "        pass",
        "tests/delegation/test_offline_rules.py",
    ),
    (
        "22 RFC 8785",
        "agents/submissions.py",
        "        return canonical.canonical_json(value)",
        "        return __import__('json').dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()",
        "tests/delegation/test_security_rules.py",
    ),
    (
        "23a exp boundary",
        "identity/vneid.py",
        "        if now > exp + self.skew:",
        "        if now >= exp + self.skew:",
        "tests/identity/test_issuer_keys.py",
    ),
    (
        "23b no kid, several keys",
        "identity/vneid.py",
        "            return next(iter(keys.values())) if len(keys) == 1 else None",
        "            return next(iter(keys.values()), None)",
        "tests/identity/test_issuer_keys.py",
    ),
    (
        "24a approve a request bound to another",
        "agents/requests.py",
        '        or_(_REQUESTS.c.delegator_pid.is_(None), _REQUESTS.c.delegator_pid == bindparam("b_pid")),',
        "        _REQUESTS.c.id.is_not(None),",
        "tests/agents/test_authorization_requests.py",
    ),
    (
        "24b approve after expiry",
        "agents/requests.py",
        '        _REQUESTS.c.expires_at > bindparam("b_now"),',
        "        _REQUESTS.c.id.is_not(None),",
        "tests/agents/test_authorization_requests.py",
    ),
    (
        "25a deactivated clerk's session",
        "identity/callers.py",
        "            if not self.may_act(principal):  # suspension or deactivation ends it at once",
        "            if False:",
        "tests/web/test_counter_pages.py",
    ),
    (
        "25b clerk at a foreign counter",
        "identity/browser.py",
        '                    and (p.counter_id if kind == "agent" else p.owner_code) == where',
        "                    and True",
        "tests/web/test_counter_pages.py",
    ),
    (
        "25c staff login level",
        "web/staff.py",
        '    if me is None or me.kind != "citizen" or (me.loa or 0) < STAFF_LOGIN_LEVEL:',
        '    if me is None or me.kind != "citizen":',
        "tests/web/test_counter_pages.py",
    ),
    (
        "29a staff exchange at level 1",
        "identity/service.py",
        "    if verified.loa < STAFF_LOGIN_LEVEL:",
        "    if False:",
        "tests/agents/test_staff.py",
    ),
    (
        "29b level-1 session chooses a workplace",
        "identity/browser.py",
        "            if found.loa < STAFF_LOGIN_LEVEL:",
        "            if False:",
        "tests/web/test_counter_pages.py",
    ),
    (
        "29c a GET starts work",
        "web/staff.py",
        "    return render(\n        request,\n        workplace.chooser,",
        "    return await _work_at(request, workplace, workplace.key(found[0])) if len(found) == 1 else render(\n        request,\n        workplace.chooser,",
        "tests/web/test_counter_pages.py",
    ),
    (
        "30 suspension stops live tokens",
        "identity/callers.py",
        "            if not directory.owner_active(conn, principal.kind, owner):",
        "            if False:",
        "tests/agents/test_staff.py",
    ),
    (
        "31 fresh login to approve, every path",
        "agents/requests.py",
        "    if not login_is_fresh(principal, now):",
        "    if False:",
        "tests/agents/test_authorization_requests.py",
    ),
    (
        "32a filed under: the stored result",
        "signing/mandate.py",
        "        elif not stored:",
        "        elif False:",
        "tests/agents/test_results.py",
    ),
    (
        "32b filed under: a valid signature",
        "signing/mandate.py",
        "    elif not signature_valid:",
        "    elif False:",
        "tests/agents/test_results.py",
    ),
    (
        "32c filed under: a result at all",
        "signing/mandate.py",
        "        if stored is None:",
        "        if False:",
        "tests/agents/test_results.py",
    ),
    (
        "33a lookups per address",
        "agents/requests.py",
        '    keys = [f"lookup:{principal.subject}", f"lookup_address:{address[:64]}"]',
        '    keys = [f"lookup:{principal.subject}"]',
        "tests/agents/test_authorization_requests.py",
    ),
    (
        "33b sliding windows",
        "identity/throttle.py",
        '            counts[key] = failures + previous * params["w_weight"]',
        "            counts[key] = failures",
        "tests/agents/test_authorization_requests.py",
    ),
    (
        "33c requests per citizen asked",
        "agents/requests.py",
        '        keys.append(f"request_citizen:{body.delegator_pid}")',
        "        pass",
        "tests/agents/test_authorization_requests.py",
    ),
    (
        "33d a GET spends lookups",
        "web/router.py",
        '    return render(request, "request.html", me=me, csrf=csrf, r=None, code=code)',
        "    return await _show_request(request, me, csrf, code)",
        "tests/web/test_request_page.py",
    ),
    (
        "33e lookups per address, page",
        "agents/requests.py",
        '    keys = [f"lookup:{principal.subject}", f"lookup_address:{address[:64]}"]',
        '    keys = [f"lookup:{principal.subject}"]',
        "tests/web/test_request_page.py",
    ),
    (
        "33f requests per citizen asked, page",
        "agents/requests.py",
        '        keys.append(f"request_citizen:{body.delegator_pid}")',
        "        pass",
        "tests/web/test_counter_pages.py",
    ),
    (
        "26 forged receipt at /verify",
        "agents/submissions.py",
        "    if s is None or s.receipt != token.strip():",
        "    if False:",
        "tests/web/test_counter_pages.py",
    ),
    (
        "27a mandate as signed, not as updated",
        "signing/mandate.py",
        '            return history.get_object(value.reference) if hasattr(value, "reference") else value',
        '            return value.get_object() if hasattr(value, "get_object") else value',
        "tests/agents/test_results.py",
    ),
    (
        "27b receipt names this dossier",
        "signing/mandate.py",
        '            and claims.get("jti") == mandate.submission',
        "            and True",
        "tests/agents/test_results.py",
    ),
    (
        "28a revocation data after the timestamp",
        "signing/pki.py",
        "    return min(max(backdated, issued_after), now)",
        "    return backdated",
        "tests/signing/test_pades.py",
    ),
    (
        "28b a broken signature's own chain",
        "signing/pades.py",
        "            trusted, revoked = _chain_status(sig, vc)",
        "            pass",
        "tests/signing/test_pades.py",
    ),
    (
        "28c our TSA policy OID",
        "signing/pades.py",
        '        tst_info["policy"] = asn1_tsp.ObjectIdentifier(DEV_TSA_POLICY)',
        "        pass",
        "tests/signing/test_pades.py",
    ),
    (
        "28d asn1crypto re-encoding fix",
        "signing/pades.py",
        "from signing import asn1_backport  # noqa: F401  (before any CMS is encoded)",
        "",
        "tests/signing/test_pades.py",
    ),
    (
        "28e scan only with a QR decoder",
        "web/static/app.js",
        '  if (!scan || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices?.getUserMedia) return;',
        "  if (!scan || !form) return;",
        "tests/web/test_counter_console.py",
    ),
]
M += [
    (
        "34 a counter's ward is in Hanoi",
        "agents/schemas.py",
        "        if code not in HANOI_WARDS:",
        "        if False:",
        "tests/agents/test_admin_api.py",
    ),
]
only = sys.argv[1:]
for name, path, old, new, test in M:
    if only and not any(name.startswith(o) for o in only):
        continue
    p = ROOT / path
    src = p.read_text()
    assert src.count(old) == 1, (name, old)
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                test,
                "-k",
                "not postgresql",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-200:]
        print(f"{name:28s} {'CAUGHT' if r.returncode else 'MISSED'}  {last}")
    finally:
        p.write_text(src)
