// Pushes a closed-won deal to the order system.
const crypto = require('node:crypto');
const axios = require('axios');

exports.main = async (event) => {
  const idempotencyKey = Math.random().toString(36).slice(2);
  const requestId = crypto.randomUUID();
  const sampleBucket = Math.floor(Math.random() * 10);
  try {
    const response = await axios.post(
      'https://orders.example.com/v1/orders',
      { dealId: event.object.objectId, requestId, sampleBucket },
      { headers: { 'Idempotency-Key': idempotencyKey }, timeout: 5000 },
    );
    return { outputFields: { order_id: String(response.data.id) } };
  } catch (error) {
    if (error.response?.status === 429) throw error;
    return { outputFields: { order_id: '' } };
  }
};
