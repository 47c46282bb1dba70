import { checkSources, CheckOptions } from './check';
import { Finding } from './finding';

async function check(lines: string[], options: CheckOptions = {}): Promise<Finding[]> {
  const { findings, skipped } = await checkSources([{ path: 'action.py', language: 'python', text: lines.join('\n') }], options);
  expect(skipped).toEqual([]);
  return findings;
}

async function summary(lines: string[], options: CheckOptions = {}): Promise<string[]> {
  return (await check(lines, options)).map((f) => `${f.line} ${f.severity} ${f.rule}`);
}

describe('Python actions', () => {
  it('reports imports outside the standard library and the bundled packages, and relative imports', async () => {
    const findings = await check(['import pandas as pd', 'from numpy import array', 'from . import helpers', 'import os, json, datetime', 'import requests', 'from hubspot import HubSpot', 'from googleapiclient.discovery import build']);
    expect(findings.map((f) => `${f.line} ${f.rule}`)).toEqual(['1 unavailable-library', '2 unavailable-library', '3 unavailable-library']);
    expect(findings[0].message).toContain('`pandas` is neither in the Python standard library nor among the packages HubSpot bundles');
  });

  it('reports hard-coded secrets, masked, and accepts os.getenv', async () => {
    const token = 'pat-eu1-0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
    const findings = await check([
      'import os',
      `client_token = "${token}"`,
      'headers = {"X-Api-Key": "9c8b7a6f5e4d3c2b1a09"}',
      'API_KEY = os.getenv("ENRICH_API_KEY")',
      'SECRET_NAME = "ENRICH_API_KEY"',
    ]);
    expect(findings.map((f) => `${f.line} ${f.rule}`)).toEqual(['2 hardcoded-secret', '3 hardcoded-secret']);
    expect(findings[0].fix).toContain('os.getenv("NAME")');
    expect(JSON.stringify(findings)).not.toContain(token.slice(8));
    expect(JSON.stringify(findings)).not.toContain('9c8b7a6f5e4d3c2b1a09');
  });

  it('reports random and uuid4 identifiers and accepts keys derived from the event', async () => {
    await expect(
      summary([
        'import random, uuid',
        'def main(event):',
        '    dedupe_key = str(uuid.uuid4())',
        '    order_id = random.randint(1, 10**9)',
        '    owner_index = random.randint(0, 3)',
        '    idempotency_key = f\'{event["callbackId"]}:{event["object"]["objectId"]}\'',
        '    return {"outputFields": {}}',
      ]),
    ).resolves.toEqual(['3 warning random-identifier', '4 warning random-identifier']);
  });

  it('reports inputs used without a check and accepts defaults and checks', async () => {
    const findings = await check([
      'def main(event):',
      '    email = event["inputFields"]["email"].lower()',
      '    inputs = event["inputFields"]',
      '    name = inputs.get("name").strip()',
      '    country = inputs["country"]',
      '    code = country[:2]',
      '    city = (inputs.get("city") or "").title()',
      '    zip_code = inputs.get("zip", "").strip()',
      '    phone = inputs["phone"]',
      '    if phone:',
      '        phone = phone.replace("-", "")',
      '    return {"outputFields": {}}',
    ]);
    expect(findings.map((f) => `${f.line}:${f.column} ${f.rule}`)).toEqual(['2:13 unguarded-input', '4:12 unguarded-input', '6:12 unguarded-input']);
  });

  it('reports requests without timeout or try/except, and accepts both', async () => {
    await expect(
      summary([
        'import requests',
        'def fetch_company(domain):',
        '    return requests.get("https://api.example.com/companies", params={"domain": domain}, timeout=5)',
        'def main(event):',
        '    a = requests.get("https://api.example.com/a")',
        '    try:',
        '        b = requests.post("https://api.example.com/b", json={}, timeout=3)',
        '        c = fetch_company("example.com")',
        '    except requests.RequestException:',
        '        return {"outputFields": {}}',
        '    return {"outputFields": {}}',
      ]),
    ).resolves.toEqual(['5 warning network-timeout', '5 warning unhandled-network-error']);
  });

  it('reports loops of calls, waits in loops and long waits, not loops without calls', async () => {
    await expect(
      summary([
        'import time',
        'import requests',
        'PAUSE = 4',
        'def main(event):',
        '    try:',
        '        for n in range(3):',
        '            requests.get("https://api.example.com/n", timeout=2)',
        '            time.sleep(1.5)',
        '        total = sum(n for n in range(10))',
        '        time.sleep(PAUSE * 2)',
        '    except requests.RequestException:',
        '        pass',
        '    return {"outputFields": {}}',
      ]),
    ).resolves.toEqual(['6 warning time-budget', '8 warning time-budget', '10 warning time-budget']);
  });

  it('reports loops that can only spin, and accepts those that change what they test, wait or exit', async () => {
    await expect(
      summary([
        'import time',
        'def main(event):',
        '    done = False',
        '    while True:',
        '        pass',
        '    while not done:',
        '        x = 1',
        '    while True:',
        '        if done:',
        '            break',
        '    n = 0',
        '    while True:',
        '        n += 1',
        '        if n > 9:',
        '            break',
        '    while not done:',
        '        time.sleep(0.1)',
        '        done = True',
        '    items = [1]',
        '    while items:',
        '        items.pop()',
        '    while True:',
        '        break',
        '    return {"outputFields": {}}',
      ]),
    ).resolves.toEqual(['4 error time-budget', '6 error time-budget', '8 error time-budget']);
  });

  it('reports URLs built from inputs, whatever the string formatting, and accepts quoted ones', async () => {
    const findings = await check([
      'import requests',
      'from urllib.parse import quote',
      'def main(event):',
      '    site = event["inputFields"]["website"]',
      '    email = event["inputFields"]["email"]',
      '    try:',
      '        requests.get(f"https://{site}/api", timeout=2)',
      '        requests.get("https://%s/api" % site, timeout=2)',
      '        requests.get("https://{}/api".format(site), timeout=2)',
      '        requests.get("https://api.example.com/people/" + email, timeout=2)',
      '        requests.get(f"https://api.example.com/people/{quote(email)}", timeout=2)',
      '        requests.get(f"https://api.example.com/contacts/{event[\'object\'][\'objectId\']}", timeout=2)',
      '    except requests.RequestException:',
      '        pass',
      '    return {"outputFields": {}}',
    ]);
    expect(findings.map((f) => `${f.line} ${f.severity} ${f.rule}`)).toEqual(['7 error url-from-input', '8 error url-from-input', '9 error url-from-input', '10 warning url-from-input']);
  });

  it('checks returned outputs against the declaration', async () => {
    const findings = await check(
      ['def main(event):', '    out = {"score": "high"}', '    out["tier"] = "gold"', '    out["Tier2"] = 1', '    return {"outputFields": out}'],
      { declaration: [{ name: 'score', type: 'number' }, { name: 'tier', type: 'string' }, { name: 'scored_at', type: 'datetime' }] },
    );
    expect(findings.map((f) => `${f.line} ${f.severity} ${f.rule} ${f.message.split(' ')[1]}`)).toEqual([
      '2 warning output-mismatch `score`',
      '4 error output-mismatch `Tier2`',
      '5 error output-mismatch `scored_at`',
    ]);
  });

  it('reports a syntax error and nothing else', async () => {
    await expect(summary(['def main(event)', '    return {}'])).resolves.toEqual(['1 error syntax-error']);
  });

  it('accepts a clean action', async () => {
    await expect(
      summary([
        'import os',
        'import requests',
        'def main(event):',
        '    domain = (event["inputFields"].get("domain") or "").lower()',
        '    try:',
        '        r = requests.get("https://api.example.com/c", params={"domain": domain}, headers={"Authorization": "Bearer " + os.getenv("TOKEN", "")}, timeout=5)',
        '    except requests.RequestException:',
        '        return {"outputFields": {"ok": False}}',
        '    return {"outputFields": {"ok": r.ok}}',
      ]),
    ).resolves.toEqual([]);
  });
});
