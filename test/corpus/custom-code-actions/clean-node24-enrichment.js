// Enriches a contact's company on the Node.js 24 runtime: async main, returned outputs, secrets from
// the environment, a timeout and error handling on the one outside call.
const ENRICH_BASE_URL = 'https://company.example-enrich.com/v2/companies/find';

exports.main = async (event) => {
  const apiKey = process.env.ENRICH_API_KEY;
  if (!apiKey) throw new Error('Missing ENRICH_API_KEY secret');

  const email = event.inputFields.email ?? '';
  const domain = email.includes('@') ? email.split('@')[1].toLowerCase() : '';
  if (!domain) return { outputFields: { enriched: false, industry: 'unknown' } };

  try {
    const response = await fetch(`${ENRICH_BASE_URL}?domain=${encodeURIComponent(domain)}`, {
      headers: { Authorization: `Bearer ${apiKey}` },
      signal: AbortSignal.timeout(5000),
    });
    if (response.status === 429 || response.status >= 500) throw new Error(`enrichment answered ${response.status}`);
    if (!response.ok) return { outputFields: { enriched: false, industry: 'unknown' } };
    const company = await response.json();
    return { outputFields: { enriched: true, industry: String(company.industry ?? 'unknown') } };
  } catch (error) {
    if (error.name === 'TimeoutError') return { outputFields: { enriched: false, industry: 'unknown' } };
    throw error;
  }
};
