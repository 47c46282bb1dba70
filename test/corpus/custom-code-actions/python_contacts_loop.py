"""Copies the lifecycle stage to every associated contact of a company."""
import os
import time

from hubspot import HubSpot

client = HubSpot(access_token=os.getenv("PRIVATE_APP_TOKEN"))


def update_contact(contact_id, stage):
    client.crm.contacts.basic_api.update(contact_id, {"properties": {"lifecyclestage": stage}})


def main(event):
    stage = event["inputFields"].get("lifecyclestage") or "lead"
    try:
        page = client.crm.associations.v4.basic_api.get_page("companies", event["object"]["objectId"], "contacts")
        for association in page.results:
            update_contact(association.to_object_id, stage)
            time.sleep(2)
        names = [client.crm.contacts.basic_api.get_by_id(a.to_object_id).properties["firstname"] for a in page.results]
    except Exception:
        return {"outputFields": {"updated": 0, "names": ""}}
    return {"outputFields": {"updated": len(page.results), "names": ", ".join(names)}}
