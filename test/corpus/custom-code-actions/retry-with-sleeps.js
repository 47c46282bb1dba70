// Waits for the billing system to create the account before reading it.
const axios = require('axios');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const SETTLE_MS = 12000;

exports.main = async (event) => {
  const api = axios.create({ baseURL: 'https://billing.example.com/api', timeout: 3000 });
  try {
    await sleep(SETTLE_MS);
    let account = await api.get(`/accounts/by-contact/${event.object.objectId}`);
    if (!account.data.ready) {
      await sleep(10000);
      account = await api.get(`/accounts/by-contact/${event.object.objectId}`);
    }
    return { outputFields: { billing_account: account.data.id } };
  } catch (error) {
    return { outputFields: { billing_account: '' } };
  }
};
