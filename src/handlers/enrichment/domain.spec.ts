import { emailDomain, InvalidDomainError, normaliseDomain } from './domain';

describe('normaliseDomain', () => {
  it.each([
    ['acme.com', 'acme.com'],
    ['  Acme.COM ', 'acme.com'],
    ['www.acme.com', 'acme.com'],
    ['acme.com.', 'acme.com'],
    ['https://www.acme.com/about?x=1#team', 'acme.com'],
    ['http://shop.acme.co.uk:8080/', 'shop.acme.co.uk'],
    ['acme.com/pricing', 'acme.com'],
    ['HTTPS://ACME.IO', 'acme.io'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['https://user:secret@acme.com/', 'acme.com'],
  ])('%j -> %j', (raw, expected) => {
    expect(normaliseDomain(raw)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['acme', /no top-level domain/],
    ['localhost', /no top-level domain/],
    ['127.0.0.1', /IP address/],
    ['http://10.0.0.5:8080/admin', /IP address/],
    ['http://[::1]/', /IP address/],
    ['ftp://acme.com', /only http and https/],
    ['javascript://acme.com', /only http and https/],
    ['acme .com', /spaces/],
    ['-acme.com', /not a valid domain/],
    ['acme.c0m', /not a valid domain/],
    ['acme_corp.com', /not a valid domain/],
    [`${'a'.repeat(64)}.com`, /not a valid domain/],
  ])('refuses %j', (raw, message) => {
    expect(() => normaliseDomain(raw)).toThrow(InvalidDomainError);
    expect(() => normaliseDomain(raw)).toThrow(message);
  });
});

describe('emailDomain', () => {
  it('answers the normalised domain of an address, or undefined when it has none', () => {
    expect(emailDomain('Jane.Doe@Sub.Acme.com')).toBe('sub.acme.com');
    expect(emailDomain('jane@localhost')).toBeUndefined();
    expect(emailDomain('no-at-sign')).toBeUndefined();
    expect(emailDomain('@acme.com')).toBeUndefined();
  });
});
