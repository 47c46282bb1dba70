// Scores a deal; meant to be checked against deal-scoring-outputs.declaration.json.
exports.main = async (event) => {
  const amount = Number(event.inputFields.amount ?? 0);
  const outputFields = { dealScore: amount > 10000 ? 90 : 40 };
  outputFields.priority = amount > 10000 ? 'high' : 'normal';
  outputFields.next_review = new Date(Date.now() + 7 * 86400000).toISOString();
  outputFields.is_large = 'maybe';
  return { outputFields };
};
