"""Enriches the company of a contact and tags the record (first written for the beta runtime)."""
import uuid

import pandas as pd
import requests

API_KEY = "f3a9c2e71b5d4c08a6e2"


def main(event):
    website = event["inputFields"]["website"]
    domain = website.lower().replace("https://", "")
    request_id = str(uuid.uuid4())
    response = requests.get(
        f"https://{domain}/.well-known/company.json",
        headers={"X-Request-Id": request_id, "X-Api-Key": API_KEY},
    )
    frame = pd.DataFrame([response.json()])
    return {"outputFields": {"industry": frame["industry"][0], "domain": domain}}
