// Half-edited in the workflow editor and saved.
exports.main = async (event) => {
  const score = Number(event.inputFields.score ?? 0;
  return { outputFields: { score } };
};
