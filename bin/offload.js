#!/usr/bin/env node
// `npx offload`: the operator CLI (tools/cli), compiled by `npm run build:tools`.
require('../dist/tools/cli/main.js').main();
