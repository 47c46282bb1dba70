"""Scores a contact's company from the enrichment service (Python runtime)."""
import os
from urllib.parse import quote

import requests

ENRICH_URL = "https://company.example-enrich.com/v2/companies/find"


def main(event):
    api_key = os.getenv("ENRICH_API_KEY")
    domain = (event["inputFields"].get("domain") or "").strip().lower()
    if not domain:
        return {"outputFields": {"score": 0, "enriched": False}}
    try:
        response = requests.get(
            f"{ENRICH_URL}?domain={quote(domain, safe='')}",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=5,
        )
        response.raise_for_status()
    except requests.RequestException:
        return {"outputFields": {"score": 0, "enriched": False}}
    employees = int(response.json().get("employees") or 0)
    return {"outputFields": {"score": min(100, employees // 10), "enriched": True}}
