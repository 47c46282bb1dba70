// Creates a support ticket in the helpdesk for the enrolled contact.
import fetch from 'node-fetch';
import { v4 as uuidv4 } from 'uuid';
import moment from 'moment';

export const main = async (event) => {
  const ticketRef = uuidv4();
  const due = moment().add(2, 'days').toISOString();
  try {
    const response = await fetch('https://helpdesk.example.com/api/tickets', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': process.env.HELPDESK_KEY },
      body: JSON.stringify({ ref: ticketRef, contact: event.object.objectId, due }),
      signal: AbortSignal.timeout(5000),
    });
    return { outputFields: { ticket_ref: ticketRef, created: response.ok } };
  } catch (error) {
    return { outputFields: { ticket_ref: '', created: false } };
  }
};
