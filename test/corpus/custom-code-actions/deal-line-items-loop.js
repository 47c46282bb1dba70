// Sums the amounts of a deal's line items, one API call per line item.
const hubspot = require('@hubspot/api-client');

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

exports.main = async (event) => {
  const client = new hubspot.Client({ accessToken: process.env.PRIVATE_APP_TOKEN });
  try {
    const associations = await client.crm.associations.v4.basicApi.getPage('deals', event.object.objectId, 'line_items');
    let total = 0;
    for (const association of associations.results) {
      const item = await client.crm.lineItems.basicApi.getById(association.toObjectId, ['amount']);
      total += Number(item.properties.amount ?? 0);
      await pause(1500);
    }
    associations.results.forEach(async (association) => {
      await client.crm.lineItems.basicApi.update(association.toObjectId, { properties: { synced: 'true' } });
    });
    return { outputFields: { line_item_total: total } };
  } catch (error) {
    return { outputFields: { line_item_total: -1 } };
  }
};
