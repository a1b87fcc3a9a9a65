#!/usr/bin/env python3
"""Seed 000's provisioning, as its write-up ships it: the baseline of bench/tenants.sh.

`CortexPATProvisioner` below is the seed's "Python Provisioning Class"
(shared/seeds/000_*.txt), statement for statement: one `requests.post` per statement, no
session, no retry, one tenant at a time. The only changes are the ones needed to run it
against a local emulator, each marked `# bench:`: the base URL may be `http://HOST:PORT`
instead of `https://ACCOUNT`, and the secret each call returns is stored in a file (the
write-up says "Store token in your deployment's secret manager"; a 0600 file is the cheapest
honest stand-in, with none of the fsyncs snowpat's file sink does).

Usage: seed000_provision.py --url URL --token-file PATH --policy DB.SCHEMA.POLICY
                            --from IDS_FILE --out DIR
Prints one JSON object: {"tenants": N, "seconds": S, "tenants_per_second": R}.
"""

import argparse
import json
import os
import sys
import time

import requests


class CortexPATProvisioner:
    def __init__(self, automation_pat: str, account_url: str,
                 role: str = "AUTOMATION_ROLE"):
        # bench: the emulator speaks plain HTTP on loopback; an account host keeps https.
        if account_url.startswith("http://") or account_url.startswith("https://"):
            self.url = f"{account_url.rstrip('/')}/api/v2/statements"
        else:
            self.url = f"https://{account_url}/api/v2/statements"
        self.headers = {
            "Authorization": f"Bearer {automation_pat}",
            "X-Snowflake-Authorization-Token-Type": "PROGRAMMATIC_ACCESS_TOKEN",
            "Content-Type": "application/json",
        }
        self.role = role

    def _execute(self, sql: str) -> dict:
        resp = requests.post(self.url, headers=self.headers,
                             json={"statement": sql, "role": self.role})
        result = resp.json()
        if resp.status_code != 200:
            raise Exception(f"SQL API error: {result.get('message')}")
        return result

    def provision_deployment(self, deployment_id: str,
                             auth_policy_fqn: str,
                             days_to_expiry: int = 90) -> str:
        user = f"DEPLOYMENT_{deployment_id}"
        pat_name = f"DEPLOYMENT_{deployment_id}_PAT"
        self._execute(
            f"CREATE USER IF NOT EXISTS {user} "
            f"TYPE = SERVICE DEFAULT_ROLE = CORTEX_REST_API_ROLE"
        )
        self._execute(
            f"GRANT ROLE CORTEX_REST_API_ROLE TO USER {user}"
        )
        self._execute(
            f"ALTER USER {user} SET AUTHENTICATION POLICY {auth_policy_fqn}"
        )
        self._execute(
            f"GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS "
            f"ON USER {user} TO ROLE {self.role}"
        )
        result = self._execute(
            f"ALTER USER {user} ADD PROGRAMMATIC ACCESS TOKEN {pat_name} "
            f"ROLE_RESTRICTION = 'CORTEX_REST_API_ROLE' "
            f"DAYS_TO_EXPIRY = {days_to_expiry} "
            f"COMMENT = 'Deployment {deployment_id}'"
        )
        token_secret = result["data"][0][1]
        return token_secret


def store(out_dir: str, deployment_id: str, secret: str) -> None:
    """bench: "Store token in your deployment's secret manager" -- a 0600 file."""
    path = os.path.join(out_dir, f"{deployment_id}.token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--from", dest="ids", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.token_file) as f:
        pat = f.read().strip()
    with open(args.ids) as f:
        ids = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    provisioner = CortexPATProvisioner(automation_pat=pat, account_url=args.url)
    started = time.monotonic()
    for deployment_id in ids:
        secret = provisioner.provision_deployment(deployment_id, auth_policy_fqn=args.policy)
        store(args.out, deployment_id, secret)
    seconds = time.monotonic() - started
    print(json.dumps({"tenants": len(ids), "seconds": round(seconds, 3),
                      "tenants_per_second": round(len(ids) / seconds, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
