"""Drives a running coffer-sfsim with simple-salesforce, an independent Salesforce client.

Usage: fidelity.py INSTANCE_URL CA_PEM CLIENT_ID CLIENT_SECRET ACCOUNT_ID
Prints one JSON document with what simple-salesforce saw; the Rust test
(tests/http_simple_salesforce.rs) compares it with the simulator's org.

simple-salesforce builds its token URL as https://{domain}.salesforce.com, which cannot
name a loopback server, so the client-credentials token is fetched the way its
token_login does it (HTTP Basic client_id:client_secret, form grant_type) and handed to
Salesforce(instance_url=..., session_id=...), which is how simple-salesforce accepts an
existing session.
"""
import base64
import json
import sys

import requests
from simple_salesforce import Salesforce

instance_url, ca_pem, client_id, client_secret, account_id = sys.argv[1:6]

session = requests.Session()
session.verify = ca_pem

basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
token = session.post(
    f"{instance_url}/services/oauth2/token",
    {"grant_type": "client_credentials"},
    headers={"Authorization": f"Basic {basic}"},
)
token.raise_for_status()
token_body = token.json()

sf = Salesforce(
    instance_url=token_body["instance_url"],
    session_id=token_body["access_token"],
    session=session,
    version="62.0",
)
out = {"token_keys": sorted(token_body)}

# REST query with nextRecordsUrl paging (query_all follows the cursors).
soql = "SELECT Id, Name, SystemModstamp FROM Contact"
contacts = sf.query_all(soql)
out["query_all"] = {"totalSize": contacts["totalSize"], "records": contacts["records"]}

# Describe and describeGlobal.
out["describe_account"] = sf.Account.describe()
out["describe_global"] = sf.describe()

# Bulk API 2.0: create, poll, download every page (maxRecords 500 -> several locators).
bulk_soql = "SELECT Id, Name, Account.Name FROM Contact"
out["bulk2_pages"] = list(sf.bulk2.Contact.query(bulk_soql, max_records=500, wait=0.5))

# Collection insert, then upsert by external id (one update, one insert).
inserted = sf.restful(
    "composite/sobjects",
    method="POST",
    json={
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "Name": "Fidelity One"},
            {"attributes": {"type": "Account"}, "Name": "Fidelity Two"},
        ],
    },
)
out["insert"] = inserted
upserted = sf.restful(
    "composite/sobjects/Project__c/External_Id__c",
    method="PATCH",
    json={
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Project__c"}, "External_Id__c": "PRJ-0000001",
             "Name": "Renamed by simple-salesforce"},
            {"attributes": {"type": "Project__c"}, "External_Id__c": "PRJ-NEW-0001",
             "Name": "New from simple-salesforce", "Account__c": account_id},
        ],
    },
)
out["upsert"] = upserted
# Read one inserted record back through SFType.get.
out["get_inserted"] = sf.Account.get(inserted[0]["id"])

# Limits last, so the counter includes every call above.
out["limits"] = sf.limits()
usage = sf.api_usage.get("api-usage")
out["api_usage"] = [usage.used, usage.total] if usage else None

json.dump(out, sys.stdout)
