// Waits for a deal to be approved by spinning: nothing in the loops changes or waits, so they run
// until HubSpot's 20-second limit stops the action.
exports.main = async (event) => {
  const approved = event.inputFields.approved === 'true';
  let rounds = 0;
  while (true) {
    if (approved) break;
  }
  for (;;) {
    rounds++;
  }
  for (let i = 0; ; i++) {
    if (i >= 3) break;
  }
  return { outputFields: { approved, rounds } };
};
