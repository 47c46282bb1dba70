// Assigns the contact to the owner with the fewest open deals.
const hubspot = require('@hubspot/api-client');
const _ = require('lodash');

module.exports = {
  main(event, cb) {
    const client = new hubspot.Client({ accessToken: process.env.OWNER_APP_TOKEN });
    client.crm.owners.ownersApi.getPage(undefined, undefined, 100, false).then((owners) => {
      const owner = _.minBy(owners.results, (o) => o.openDeals ?? 0);
      cb({ outputFields: { hubspot_owner_id: owner.id } });
    });
  },
};
