// Routes a lead to a regional team from the country and email the form collected.
exports.main = async (event) => {
  const { country, company_size: companySize } = event.inputFields;
  const email = event.inputFields.email.toLowerCase();
  const region = country.trim().toUpperCase() === 'US' ? 'americas' : 'international';
  const enterprise = event.inputFields['plan'].startsWith('ent');
  const tier = companySize && companySize.length > 3 ? 'large' : 'small';
  const source = event.inputFields.source?.trim() ?? 'unknown';
  const freeMail = email.endsWith('@gmail.com');
  return { outputFields: { region, tier, enterprise, source, free_mail: freeMail } };
};
